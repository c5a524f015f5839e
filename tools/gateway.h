/* SPDX-License-Identifier: MIT */
/* tools/gateway.h - what the parts of zerocp-gateway share: the name
 * mapping between zerocp and DDS topics, and the measuring modes (ping,
 * pong, sink) of tools/gateway_bench.c. */
#ifndef ZEROCP_TOOLS_GATEWAY_H
#define ZEROCP_TOOLS_GATEWAY_H

#include "topic_tool.h"

#include <stddef.h>

/* The DDS topic of zerocp topic `name`: "zerocp/" then the name with
 * every byte outside [A-Za-z0-9] written as "_HH" (two upper-case hex
 * digits; so "_" is "_5F"): "a.b" is "zerocp/a_2Eb".  0, or -1 if out
 * is too small. */
int zcp_gw_dds_name(const char *name, char *out, size_t size);

/* The reverse: the zerocp topic of a DDS topic name, or -1 if the name is
 * not one of the mapping (another prefix, a bad escape). */
int zcp_gw_zcp_name(const char *dds_name, char *out, size_t size);

/* zerocp-gateway ping|pong|sink ...: the measuring modes (round trip and
 * throughput over zerocp topics, for tools/bench-gateway.sh).  Same exit
 * codes as the tool. */
int zcp_gw_bench_main(int argc, char **argv);

#endif /* ZEROCP_TOOLS_GATEWAY_H */
