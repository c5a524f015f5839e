/* SPDX-License-Identifier: MIT */
/*
 * zerocp/common.h - definitions shared by every zerocp public header.
 *
 * Not meant to be included on its own by applications (it does no harm);
 * include <zerocp/zerocp.h> instead.
 */
#ifndef ZEROCP_COMMON_H
#define ZEROCP_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * ZCP_API marks a function or object exported from libzerocp.  The library
 * is built with -fvisibility=hidden where the compiler supports it, so only
 * declarations carrying ZCP_API are visible to applications.  Declarations
 * are always given default visibility, both while building the library and
 * in applications, so that the attribute agrees on both sides.
 */
#if defined(__GNUC__) || defined(__clang__)
#define ZCP_API __attribute__((visibility("default")))
#else
#define ZCP_API
#endif

/* Brackets every public header so C++ code sees C linkage. */
#ifdef __cplusplus
#define ZCP_BEGIN_DECLS extern "C" {
#define ZCP_END_DECLS }
#else
#define ZCP_BEGIN_DECLS
#define ZCP_END_DECLS
#endif

#endif /* ZEROCP_COMMON_H */
