#!/bin/sh
# SPDX-License-Identifier: MIT
# Bootstrap the build system from a git checkout: generates configure,
# Makefile.in and config.h.in, and copies the auxiliary scripts
# (tap-driver.sh, ltmain.sh, ...) into build-aux/.
set -e
cd "$(dirname "$0")"
mkdir -p build-aux m4
exec autoreconf -fi
