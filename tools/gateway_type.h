/* SPDX-License-Identifier: MIT */
/* tools/gateway_type.h - the DDS type zerocp-gateway sends, as idlc
 * 0.10.2 (Cyclone DDS) generates it from this IDL:
 *
 *   module zerocp_gw {
 *     struct Sample {
 *       unsigned long long origin_gateway; // the exporting gateway's id
 *       unsigned long long publisher;      // zcp_sample_info.origin
 *       unsigned long long seq;            // zcp_sample_info.sequence
 *       unsigned long long stamp_ns;       // zcp_sample_info.timestamp_ns
 *       sequence<octet> payload;           // the sample's bytes
 *     };
 *   };
 *
 * The descriptor in tools/gateway_type.c is idlc's output with the XTypes
 * type information left out (the ops array is what Cyclone needs to
 * serialize it); regenerate with "idlc gateway.idl" if the type changes.
 * The type is final (not appendable): a change needs a new type name.
 */
#ifndef ZEROCP_TOOLS_GATEWAY_TYPE_H
#define ZEROCP_TOOLS_GATEWAY_TYPE_H

#include <dds/dds.h>

#ifndef DDS_SEQUENCE_OCTET_DEFINED
#define DDS_SEQUENCE_OCTET_DEFINED
typedef struct dds_sequence_octet {
	uint32_t _maximum;
	uint32_t _length;
	uint8_t *_buffer;
	bool _release;
} dds_sequence_octet;
#endif

typedef struct zerocp_gw_Sample {
	uint64_t origin_gateway;
	uint64_t publisher;
	uint64_t seq;
	uint64_t stamp_ns;
	dds_sequence_octet payload;
} zerocp_gw_Sample;

#define ZCP_GW_TYPE_NAME "zerocp_gw::Sample"

extern const dds_topic_descriptor_t zerocp_gw_Sample_desc;

#endif /* ZEROCP_TOOLS_GATEWAY_TYPE_H */
