dnl SPDX-License-Identifier: MIT
# ZCP_CHECK_CFLAG(FLAG, VARIABLE)
# -------------------------------
# Append FLAG to the shell VARIABLE (and AC_SUBST it) when the C compiler
# accepts FLAG without a diagnostic.  The test compiles with -Werror so that
# compilers which merely warn about unknown options (clang) say no.
AC_DEFUN([ZCP_CHECK_CFLAG], [
  AS_VAR_PUSHDEF([zcp_cache], [zcp_cv_cflag_$1])dnl
  AC_CACHE_CHECK([whether $CC accepts $1], [zcp_cache], [
    zcp_save_CFLAGS=$CFLAGS
    CFLAGS="$CFLAGS -Werror $1"
    AC_COMPILE_IFELSE([AC_LANG_PROGRAM([[]], [[return 0;]])],
      [AS_VAR_SET([zcp_cache], [yes])], [AS_VAR_SET([zcp_cache], [no])])
    CFLAGS=$zcp_save_CFLAGS])
  AS_VAR_IF([zcp_cache], [yes], [$2="$$2 $1"])
  AS_VAR_POPDEF([zcp_cache])dnl
  AC_SUBST([$2])
])
