# SPDX-License-Identifier: MIT
# tests/attack.mk - fragment of Makefile.am: outside attacks on escrow, threads and kills (public API only).
# Add C tests with "ZCP_C_TESTS += tests/NAME", shell tests with
# "ZCP_SH_TESTS += tests/NAME.sh" (and EXTRA_DIST for helpers).
ZCP_C_TESTS += tests/attack-escrow-threads
ZCP_C_TESTS += tests/attack-dead-sender
tests_attack_dead_sender_SOURCES = tests/attack-dead-sender.c tests/attack-agent.h
ZCP_C_TESTS += tests/attack-idle-sender
tests_attack_idle_sender_SOURCES = tests/attack-idle-sender.c tests/attack-agent.h
ZCP_C_TESTS += tests/attack-soak
ZCP_C_TESTS += tests/attack-liveness
tests_attack_liveness_SOURCES = tests/attack-liveness.c tests/attack-agent.h
ZCP_C_TESTS += tests/attack-threads
# Two threads of one process on one chunk view across a peer's release
# (from_handle/ref and receive against get).
ZCP_C_TESTS += tests/attack-view-race
# White-box tests are a named, short list (tests/whitebox.txt); all other
# tests use the public headers only.
ZCP_SH_TESTS += tests/whitebox.sh
EXTRA_DIST += tests/whitebox.txt
# Publish/subscribe attacks (public API only; tests/attack-topic.h stamps samples).
ZCP_C_TESTS += tests/attack-topic-order
tests_attack_topic_order_SOURCES = tests/attack-topic-order.c tests/attack-topic.h
ZCP_C_TESTS += tests/attack-topic-kill
tests_attack_topic_kill_SOURCES = tests/attack-topic-kill.c tests/attack-topic.h
ZCP_C_TESTS += tests/attack-topic-reject
ZCP_C_TESTS += tests/attack-topic-hostile
tests_attack_topic_hostile_SOURCES = tests/attack-topic-hostile.c tests/attack-topic.h
# ZCP_OVERFLOW_BLOCK and zcp_subscriber_wait under stops, signals, kills and threads.
ZCP_C_TESTS += tests/attack-topic-block
# Discovery (zcp_topic_get_info/get_endpoint) under topic churn, typing,
# recycling, kills and stops in several processes; bad input and
# scribbles; a closing publisher that never published.
ZCP_C_TESTS += tests/attack-discovery tests/attack-discovery-input tests/attack-discovery-closed
# Publish/subscribe as an outside tester read its docs: alignment and
# sizes, typed topics, sample info, overflow accounting, limits, the
# header's thread rules, what publishers keep of the pools.
# tests/attack-api.h is their TAP and clean-up.
ZCP_C_TESTS += tests/attack-api-align tests/attack-api-types tests/attack-api-seq
ZCP_C_TESTS += tests/attack-api-overflow tests/attack-api-limits tests/attack-api-threads
ZCP_C_TESTS += tests/attack-api-ringkeep tests/attack-api-reuse tests/attack-api-misc
tests_attack_api_align_SOURCES = tests/attack-api-align.c tests/attack-api.h
tests_attack_api_types_SOURCES = tests/attack-api-types.c tests/attack-api.h
tests_attack_api_seq_SOURCES = tests/attack-api-seq.c tests/attack-api.h
tests_attack_api_overflow_SOURCES = tests/attack-api-overflow.c tests/attack-api.h
tests_attack_api_limits_SOURCES = tests/attack-api-limits.c tests/attack-api.h
tests_attack_api_threads_SOURCES = tests/attack-api-threads.c tests/attack-api.h
tests_attack_api_ringkeep_SOURCES = tests/attack-api-ringkeep.c tests/attack-api.h
tests_attack_api_reuse_SOURCES = tests/attack-api-reuse.c tests/attack-api.h
tests_attack_api_misc_SOURCES = tests/attack-api-misc.c tests/attack-api.h
