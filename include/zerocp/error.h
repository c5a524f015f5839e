/* SPDX-License-Identifier: MIT */
/*
 * zerocp/error.h - error codes.
 *
 * Every fallible zerocp function returns 0 on success or a negative error
 * code, and hands results back through out-parameters.  Functions returning
 * a pointer return NULL and set errno (to a positive errno value) instead.
 *
 * Where errno has a name for the condition the code is the negated errno
 * value, so ZCP_EINVAL == -EINVAL and a code can be compared with -errno.
 * Conditions errno cannot name get zerocp's own codes, from -10001
 * downwards, far outside errno's range.
 *
 * ZCP_ERRNO_MAP() is the one list of codes: it feeds enum zcp_err here and
 * the strings returned by zcp_strerror() and zcp_err_name().  Each entry is
 * X(name, value, text).
 */
#ifndef ZEROCP_ERROR_H
#define ZEROCP_ERROR_H

#include <errno.h>

#include <zerocp/common.h>

/* clang-format off */
#define ZCP_ERRNO_MAP(X)                                                              \
	X(EINVAL,          -EINVAL,          "invalid argument")                          \
	X(ENOENT,          -ENOENT,          "no such segment or object")                 \
	X(EEXIST,          -EEXIST,          "segment or object already exists")          \
	X(ENOMEM,          -ENOMEM,          "out of memory")                             \
	X(EACCES,          -EACCES,          "permission denied")                         \
	X(EPERM,           -EPERM,           "operation not permitted")                   \
	X(ENOBUFS,         -ENOBUFS,         "every chunk of the fitting pool is in use") \
	X(E2BIG,           -E2BIG,           "no pool has chunks that large")             \
	X(EAGAIN,          -EAGAIN,          "resource temporarily unavailable, try again") \
	X(EBUSY,           -EBUSY,           "resource is in use")                        \
	X(EUSERS,          -EUSERS,          "process table is full")                     \
	X(EALREADY,        -EALREADY,        "already released")                          \
	X(EOVERFLOW,       -EOVERFLOW,       "reference count would overflow")            \
	X(ENOTRECOVERABLE, -ENOTRECOVERABLE, "shared structure is corrupted beyond repair") \
	X(ENOSPC,          -ENOSPC,          "no space left")                             \
	X(ENAMETOOLONG,    -ENAMETOOLONG,    "name too long")                             \
	X(ESRCH,           -ESRCH,           "no such process")                           \
	X(ENOSYS,          -ENOSYS,          "not supported on this platform or build")   \
	X(ESTALE,          -ESTALE,          "handle refers to a chunk that was released") \
	X(ECHILD,          -ECHILD,          "object belongs to the parent process (used after fork)") \
	X(EMFILE,          -EMFILE,          "too many open files")                       \
	X(ECONNREFUSED,    -ECONNREFUSED,    "connection refused")                        \
	X(ENOTCONN,        -ENOTCONN,        "not connected")                             \
	X(EPROTO,          -EPROTO,          "protocol error")                            \
	X(EIO,             -EIO,             "input/output error")                        \
	X(ETIMEDOUT,       -ETIMEDOUT,       "timed out")                                 \
	X(EINTR,           -EINTR,           "interrupted by a signal")                   \
	X(ECORRUPT,        -10001,           "shared segment failed validation")          \
	X(EVERSION,        -10002,           "segment layout version mismatch")           \
	X(EFOREIGN,        -10003,           "not a zerocp segment (bad magic)")          \
	X(ETRUNCATED,      -10004,           "segment is smaller than its header claims") \
	X(EOWNER,          -10005,           "owned by another user, or writable beyond its declared mode") \
	X(ETYPE,           -10006,           "payload type differs from the topic's")    \
	X(EFULL,           -10007,           "a subscriber's queue is full")              \
	X(ETOPICS,         -10008,           "topic table is full")                       \
	X(EENDPOINTS,      -10009,           "topic has no free publisher or subscriber place")
/* clang-format on */

/* All error codes; ZCP_OK (0) is success. */
enum zcp_err {
	ZCP_OK = 0,
#define ZCP_X(name, value, text) ZCP_##name = (value),
	ZCP_ERRNO_MAP(ZCP_X)
#undef ZCP_X
};

ZCP_BEGIN_DECLS

/*
 * zcp_strerror - human-readable description of an error code.
 *
 * Concurrency: may be called at any time from any thread.
 *
 * err is a value returned by a zerocp function: 0, a ZCP_E* code, or any
 * other negative errno value.  Returns "success" for 0, the text from
 * ZCP_ERRNO_MAP() for a ZCP_E* code, strerror(-err) for another negative
 * errno value, and "unknown error" for anything else (positive values,
 * unassigned codes in zerocp's own range).  Never returns NULL.  The string
 * is static and owned by the library (or the C library); do not free or
 * modify it.  Pair with zcp_err_name() for the symbolic name.
 */
ZCP_API const char *zcp_strerror(int err);

/*
 * zcp_err_name - symbolic name of an error code, such as "ZCP_ENOBUFS".
 *
 * Concurrency: may be called at any time from any thread.
 *
 * Returns "ZCP_OK" for 0, "ZCP_<NAME>" for every code in ZCP_ERRNO_MAP(),
 * and "ZCP_E?" for any other value.  Never returns NULL; the string is
 * static.  Pair with zcp_strerror() for the description.
 */
ZCP_API const char *zcp_err_name(int err);

ZCP_END_DECLS

#endif /* ZEROCP_ERROR_H */
