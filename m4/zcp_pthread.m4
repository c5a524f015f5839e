dnl SPDX-License-Identifier: MIT
# ZCP_PTHREAD
# -----------
# A small stand-in for autoconf-archive's AX_PTHREAD that covers the
# platforms zerocp targets (glibc, musl, with gcc or clang): find the flags
# that make pthread_create() and process-shared mutex attributes link.
# Sets and substitutes PTHREAD_CFLAGS and PTHREAD_LIBS; fails configure when
# no variant works.
AC_DEFUN([ZCP_PTHREAD], [
  AC_CACHE_CHECK([how to build with POSIX threads], [zcp_cv_pthread], [
    zcp_cv_pthread=no
    zcp_save_CFLAGS=$CFLAGS
    zcp_save_LIBS=$LIBS
    for zcp_flag in -pthread -lpthread none; do
      CFLAGS=$zcp_save_CFLAGS
      LIBS=$zcp_save_LIBS
      AS_CASE([$zcp_flag],
        [-pthread], [CFLAGS="$CFLAGS -pthread"; LIBS="-pthread $LIBS"],
        [-l*], [LIBS="$zcp_flag $LIBS"])
      AC_LINK_IFELSE([AC_LANG_PROGRAM([[#include <pthread.h>
static void *fn(void *arg) { return arg; }]], [[
pthread_t t;
pthread_mutexattr_t a;
pthread_mutexattr_init(&a);
pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
if (pthread_create(&t, 0, fn, 0) == 0)
	pthread_join(t, 0);]])], [zcp_cv_pthread=$zcp_flag])
      test "x$zcp_cv_pthread" != xno && break
    done
    CFLAGS=$zcp_save_CFLAGS
    LIBS=$zcp_save_LIBS])
  AS_CASE([$zcp_cv_pthread],
    [-pthread], [PTHREAD_CFLAGS=-pthread; PTHREAD_LIBS=-pthread],
    [-l*], [PTHREAD_CFLAGS=; PTHREAD_LIBS=$zcp_cv_pthread],
    [none], [PTHREAD_CFLAGS=; PTHREAD_LIBS=],
    [AC_MSG_ERROR([cannot build programs that use POSIX threads])])
  AC_SUBST([PTHREAD_CFLAGS])
  AC_SUBST([PTHREAD_LIBS])
])
