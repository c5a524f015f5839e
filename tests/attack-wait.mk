# SPDX-License-Identifier: MIT
# tests/attack-wait.mk - fragment of Makefile.am: outside attacks on the waiting APIs
# (zcp_subscriber_wait, waitsets, triggers, zcp_waitset_fd, ZCP_OVERFLOW_BLOCK);
# public API only.  tests/attack-wait.h is their own header-only helper (not
# tests/zt.h).  Time bounds scale by ZT_SLOWDOWN; ZT_EMULATOR skips what an
# emulator cannot do; "make stress" (ZCP_TEST_ITERS) runs some of them longer.
ZCP_C_TESTS += tests/attack-wait-badinput
tests_attack_wait_badinput_SOURCES = tests/attack-wait-badinput.c tests/attack-wait.h
ZCP_C_TESTS += tests/attack-wait-block
tests_attack_wait_block_SOURCES = tests/attack-wait-block.c tests/attack-wait.h
ZCP_C_TESTS += tests/attack-wait-fdchurn
tests_attack_wait_fdchurn_SOURCES = tests/attack-wait-fdchurn.c tests/attack-wait.h
ZCP_C_TESTS += tests/attack-wait-fifo-hostile
tests_attack_wait_fifo_hostile_SOURCES = tests/attack-wait-fifo-hostile.c tests/attack-wait.h
ZCP_C_TESTS += tests/attack-wait-fifokill
tests_attack_wait_fifokill_SOURCES = tests/attack-wait-fifokill.c tests/attack-wait.h
ZCP_C_TESTS += tests/attack-wait-fifoleak
tests_attack_wait_fifoleak_SOURCES = tests/attack-wait-fifoleak.c tests/attack-wait.h
ZCP_C_TESTS += tests/attack-wait-kill
tests_attack_wait_kill_SOURCES = tests/attack-wait-kill.c tests/attack-wait.h
ZCP_C_TESTS += tests/attack-wait-lostwakeup
tests_attack_wait_lostwakeup_SOURCES = tests/attack-wait-lostwakeup.c tests/attack-wait.h
ZCP_C_TESTS += tests/attack-wait-many
tests_attack_wait_many_SOURCES = tests/attack-wait-many.c tests/attack-wait.h
ZCP_C_TESTS += tests/attack-wait-nosyscall
tests_attack_wait_nosyscall_SOURCES = tests/attack-wait-nosyscall.c tests/attack-wait.h
ZCP_C_TESTS += tests/attack-wait-scribble
tests_attack_wait_scribble_SOURCES = tests/attack-wait-scribble.c tests/attack-wait.h
ZCP_C_TESTS += tests/attack-wait-shmfull
tests_attack_wait_shmfull_SOURCES = tests/attack-wait-shmfull.c tests/attack-wait.h
ZCP_C_TESTS += tests/attack-wait-stale
tests_attack_wait_stale_SOURCES = tests/attack-wait-stale.c tests/attack-wait.h
ZCP_C_TESTS += tests/attack-wait-threads
tests_attack_wait_threads_SOURCES = tests/attack-wait-threads.c tests/attack-wait.h
ZCP_C_TESTS += tests/attack-wait-timeout
tests_attack_wait_timeout_SOURCES = tests/attack-wait-timeout.c tests/attack-wait.h
ZCP_C_TESTS += tests/attack-wait-xns
tests_attack_wait_xns_SOURCES = tests/attack-wait-xns.c tests/attack-wait.h
