/* SPDX-License-Identifier: MIT */
/*
 * zerocp/zerocp.h - umbrella header: include this one.
 *
 * zerocp is a zero-copy inter-process communication library: processes
 * share pools of fixed-size chunks in POSIX shared memory and pass chunks,
 * not copies, between each other.
 */
#ifndef ZEROCP_ZEROCP_H
#define ZEROCP_ZEROCP_H

#include <zerocp/common.h>
#include <zerocp/version.h>
#include <zerocp/error.h>
#include <zerocp/segment.h>
#include <zerocp/relptr.h>
#include <zerocp/pool.h>
#include <zerocp/chunk.h>
#include <zerocp/reclaim.h>
#include <zerocp/broker.h>
#include <zerocp/topic.h>
#include <zerocp/waitset.h>

#endif /* ZEROCP_ZEROCP_H */
