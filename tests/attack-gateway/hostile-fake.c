// SPDX-License-Identifier: MIT
// tests/attack-gateway/hostile-fake.c - a writer on zerocp/TOPIC whose type
// has the gateway's type name (zerocp_gw::Sample) but another layout.
//   hostile-fake DDSTOPIC COUNT [LINGER]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dds/dds.h"
#include "fake.h"

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	int count = atoi(argv[2]);
	double linger = argc > 3 ? atof(argv[3]) : 3;
	dds_entity_t pp = dds_create_participant(DDS_DOMAIN_DEFAULT, NULL, NULL);
	if (pp < 0)
		return 1;
	dds_entity_t tp = dds_create_topic(pp, &zerocp_gw_Sample_desc, argv[1], NULL, NULL);
	if (tp < 0) {
		fprintf(stderr, "hostile-fake: topic: %s\n", dds_strretcode(tp));
		return 1;
	}
	dds_qos_t *q = dds_create_qos();
	dds_qset_reliability(q, DDS_RELIABILITY_RELIABLE, DDS_SECS(10));
	dds_entity_t wr = dds_create_writer(pp, tp, q, NULL);
	dds_delete_qos(q);
	if (wr < 0)
		return 1;
	dds_sleepfor(DDS_SECS(2));
	dds_publication_matched_status_t st;
	dds_get_publication_matched_status(wr, &st);
	printf("matched %u\n", st.current_count);
	for (int i = 0; i < count; i++) {
		zerocp_gw_Sample m;
		m.origin_gateway = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
		m.publisher = -1;
		dds_write(wr, &m);
	}
	fflush(stdout);
	dds_sleepfor((dds_duration_t)(linger * 1e9));
	dds_delete(pp);
	return 0;
}
