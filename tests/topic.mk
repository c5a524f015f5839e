# SPDX-License-Identifier: MIT
# tests/topic.mk - publish/subscribe tests (fragment included by Makefile.am).
ZCP_C_TESTS += \
	tests/topic-basic \
	tests/topic-reopen \
	tests/topic-type-race \
	tests/topic-nm \
	tests/topic-stress \
	tests/topic-crash \
	tests/topic-hostile \
	tests/topic-wait \
	tests/topic-block \
	tests/waitset \
	tests/waitset-fd \
	tests/waitset-fd-litter \
	tests/waitset-hostile
ZCP_SH_TESTS += \
	tests/readme-pubsub.sh \
	tests/readme-waitset.sh \
	tests/readme-waitset-fd.sh
