/* SPDX-License-Identifier: MIT */
/* tools/gateway_type.c - the Cyclone DDS type descriptor of
 * zerocp_gw::Sample (see tools/gateway_type.h): idlc 0.10.2's ops array. */
#include "gateway_type.h"

#include <stddef.h>

static const uint32_t zerocp_gw_Sample_ops[] = {
	DDS_OP_ADR | DDS_OP_TYPE_8BY, offsetof(zerocp_gw_Sample, origin_gateway),
	DDS_OP_ADR | DDS_OP_TYPE_8BY, offsetof(zerocp_gw_Sample, publisher),
	DDS_OP_ADR | DDS_OP_TYPE_8BY, offsetof(zerocp_gw_Sample, seq),
	DDS_OP_ADR | DDS_OP_TYPE_8BY, offsetof(zerocp_gw_Sample, stamp_ns),
	DDS_OP_ADR | DDS_OP_TYPE_SEQ | DDS_OP_SUBTYPE_1BY, offsetof(zerocp_gw_Sample, payload),
	DDS_OP_RTS,
};

const dds_topic_descriptor_t zerocp_gw_Sample_desc = {
	.m_size = sizeof(zerocp_gw_Sample),
	.m_align = dds_alignof(zerocp_gw_Sample),
	.m_flagset = 0,
	.m_nkeys = 0u,
	.m_typename = ZCP_GW_TYPE_NAME,
	.m_keys = NULL,
	.m_nops = 6,
	.m_ops = zerocp_gw_Sample_ops,
	.m_meta = "",
};
