/* SPDX-License-Identifier: MIT */
/*
 * zerocp/version.h - compile-time and run-time library version.
 *
 * The ZCP_VERSION_* macros give the version of the headers an application
 * was compiled against; zcp_version() and zcp_version_string() give the
 * version of the library it runs with.  They differ when the shared library
 * was upgraded underneath the application.  tests/version.c checks that the
 * macros match the version in configure.ac.
 */
#ifndef ZEROCP_VERSION_H
#define ZEROCP_VERSION_H

#include <zerocp/common.h>

#define ZCP_VERSION_MAJOR 0
#define ZCP_VERSION_MINOR 1
#define ZCP_VERSION_PATCH 0

/* The version as one integer, 0xMMmmpp, for preprocessor comparisons. */
#define ZCP_VERSION_HEX \
	((ZCP_VERSION_MAJOR << 16) | (ZCP_VERSION_MINOR << 8) | ZCP_VERSION_PATCH)

#define ZCP_VERSION_STRING "0.1.0"

ZCP_BEGIN_DECLS

/*
 * zcp_version - version of the running library, as ZCP_VERSION_HEX.
 *
 * Concurrency: may be called at any time from any thread; no side effects.
 * Returns (major << 16) | (minor << 8) | patch of the library actually
 * loaded.  Pair with ZCP_VERSION_HEX to detect a header/library mismatch.
 */
ZCP_API unsigned int zcp_version(void);

/*
 * zcp_version_string - version of the running library, as "MAJOR.MINOR.PATCH".
 *
 * Concurrency: may be called at any time from any thread; no side effects.
 * Returns a pointer to a static string owned by the library; never NULL,
 * never to be freed.  Pair with ZCP_VERSION_STRING.
 */
ZCP_API const char *zcp_version_string(void);

ZCP_END_DECLS

#endif /* ZEROCP_VERSION_H */
