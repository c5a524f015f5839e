# SPDX-License-Identifier: MIT
# man/man.mk - the manual pages (fragment included by Makefile.am).
# zerocp(1), zerocp(7), zerocp(3) and one section-3 page per group of
# functions; every other exported function has a page that is a ".so"
# link to its group's (tests/man.sh checks that each export has one).
dist_man_MANS = \
	man/zcp_attach_options_init.3 \
	man/zcp_broker_close.3 \
	man/zcp_broker_fd.3 \
	man/zcp_broker_listen.3 \
	man/zcp_broker_options_init.3 \
	man/zcp_broker_path.3 \
	man/zcp_broker_serve.3 \
	man/zcp_chunk_capacity.3 \
	man/zcp_chunk_data.3 \
	man/zcp_chunk_from_handle.3 \
	man/zcp_chunk_get.3 \
	man/zcp_chunk_handle.3 \
	man/zcp_chunk_pool_index.3 \
	man/zcp_chunk_receive.3 \
	man/zcp_chunk_ref.3 \
	man/zcp_chunk_refcount.3 \
	man/zcp_chunk_release.3 \
	man/zcp_chunk_sample_info.3 \
	man/zcp_chunk_send.3 \
	man/zcp_chunk_size.3 \
	man/zcp_chunk_unsend.3 \
	man/zcp_err_name.3 \
	man/zcp_mempool_config_add_entry.3 \
	man/zcp_mempool_config_free.3 \
	man/zcp_mempool_config_layout.3 \
	man/zcp_mempool_config_new.3 \
	man/zcp_mempool_config_pool_count.3 \
	man/zcp_mempool_config_set_access.3 \
	man/zcp_mempool_config_set_backend.3 \
	man/zcp_mempool_config_set_chunk_ages.3 \
	man/zcp_mempool_config_set_max_processes.3 \
	man/zcp_mempool_config_set_topics.3 \
	man/zcp_mempool_config_set_triggers.3 \
	man/zcp_mempool_manager_attach.3 \
	man/zcp_mempool_manager_attach_fds.3 \
	man/zcp_mempool_manager_attach_opts.3 \
	man/zcp_mempool_manager_attach_socket.3 \
	man/zcp_mempool_manager_check.3 \
	man/zcp_mempool_manager_chunks.3 \
	man/zcp_mempool_manager_create.3 \
	man/zcp_mempool_manager_creator_alive.3 \
	man/zcp_mempool_manager_creator_pid.3 \
	man/zcp_mempool_manager_destroy.3 \
	man/zcp_mempool_manager_detach.3 \
	man/zcp_mempool_manager_fds.3 \
	man/zcp_mempool_manager_get_layout.3 \
	man/zcp_mempool_manager_name.3 \
	man/zcp_mempool_manager_pool_count.3 \
	man/zcp_mempool_manager_pool_stats.3 \
	man/zcp_mempool_manager_print_stats.3 \
	man/zcp_mempool_manager_process.3 \
	man/zcp_mempool_manager_process_id.3 \
	man/zcp_mempool_manager_process_slots.3 \
	man/zcp_mempool_manager_reclaim.3 \
	man/zcp_mempool_manager_remove.3 \
	man/zcp_mempool_manager_settle.3 \
	man/zcp_mempool_manager_unlink.3 \
	man/zcp_publisher_close.3 \
	man/zcp_publisher_create.3 \
	man/zcp_publisher_id.3 \
	man/zcp_publisher_loan.3 \
	man/zcp_publisher_loan_aligned.3 \
	man/zcp_publisher_publish.3 \
	man/zcp_relptr_from.3 \
	man/zcp_relptr_offset.3 \
	man/zcp_relptr_resolve.3 \
	man/zcp_relptr_segment.3 \
	man/zcp_sample_data.3 \
	man/zcp_segment_backend.3 \
	man/zcp_segment_base.3 \
	man/zcp_segment_close.3 \
	man/zcp_segment_create.3 \
	man/zcp_segment_fd.3 \
	man/zcp_segment_id.3 \
	man/zcp_segment_name.3 \
	man/zcp_segment_open.3 \
	man/zcp_segment_open_fd.3 \
	man/zcp_segment_options_init.3 \
	man/zcp_segment_real_size.3 \
	man/zcp_segment_size.3 \
	man/zcp_segment_unlink.3 \
	man/zcp_segment_unlink_same.3 \
	man/zcp_strerror.3 \
	man/zcp_subscriber_close.3 \
	man/zcp_subscriber_create.3 \
	man/zcp_subscriber_lost.3 \
	man/zcp_subscriber_take.3 \
	man/zcp_subscriber_wait.3 \
	man/zcp_subscriber_waiting.3 \
	man/zcp_topic_endpoint_slots.3 \
	man/zcp_topic_get_endpoint.3 \
	man/zcp_topic_get_info.3 \
	man/zcp_topic_options_init.3 \
	man/zcp_topic_slots.3 \
	man/zcp_trigger_close.3 \
	man/zcp_trigger_fire.3 \
	man/zcp_trigger_open.3 \
	man/zcp_version.3 \
	man/zcp_version_string.3 \
	man/zcp_waitset_attach_subscriber.3 \
	man/zcp_waitset_attach_trigger.3 \
	man/zcp_waitset_create.3 \
	man/zcp_waitset_destroy.3 \
	man/zcp_waitset_detach.3 \
	man/zcp_waitset_fd.3 \
	man/zcp_waitset_wait.3 \
	man/zerocp.1 \
	man/zerocp.3 \
	man/zerocp.7

# zerocp-gateway(1): installed with the gateway, distributed always.
if HAVE_CYCLONEDDS
dist_man_MANS += man/zerocp-gateway.1
else
EXTRA_DIST += man/zerocp-gateway.1
endif
