/* SPDX-License-Identifier: MIT */
/* The pool configuration object (process-local). */
#include "handle.h"
#include "topic.h"

#include <zerocp/waitset.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

zcp_mempool_config *zcp_mempool_config_new(void)
{
	zcp_mempool_config *cfg = calloc(1, sizeof *cfg);
	if (!cfg) {
		errno = ENOMEM;
		return NULL;
	}
	cfg->max_processes = ZCP_DEFAULT_PROCESSES;
	cfg->mode = 0600;
	cfg->gid = -1;
	cfg->backend = ZCP_BACKEND_SHM;
	cfg->max_topics = ZCP_DEFAULT_TOPICS;
	cfg->max_publishers = ZCP_DEFAULT_TOPIC_PUBLISHERS;
	cfg->max_subscribers = ZCP_DEFAULT_TOPIC_SUBSCRIBERS;
	cfg->max_queue = ZCP_DEFAULT_TOPIC_QUEUE;
	cfg->max_triggers = ZCP_DEFAULT_TRIGGERS;
	return cfg;
}

int zcp_mempool_config_add_entry(zcp_mempool_config *cfg, uint64_t chunk_size,
				 uint32_t chunk_count)
{
	if (!cfg || chunk_size == 0 || chunk_size > ZCP_MAX_CHUNK_SIZE || chunk_count == 0 ||
	    chunk_count > ZCP_MAX_CHUNKS_PER_POOL || cfg->pool_count >= ZCP_MAX_POOLS)
		return ZCP_EINVAL;
	unsigned i = cfg->pool_count;
	for (unsigned k = 0; k < cfg->pool_count; k++)
		if (cfg->chunk_size[k] == chunk_size)
			return ZCP_EINVAL;
	/* Keep entries sorted by size: insertion into a short array. */
	while (i > 0 && cfg->chunk_size[i - 1] > chunk_size) {
		cfg->chunk_size[i] = cfg->chunk_size[i - 1];
		cfg->chunk_count[i] = cfg->chunk_count[i - 1];
		i--;
	}
	cfg->chunk_size[i] = chunk_size;
	cfg->chunk_count[i] = chunk_count;
	cfg->pool_count++;
	return 0;
}

int zcp_mempool_config_set_max_processes(zcp_mempool_config *cfg, unsigned int n)
{
	if (!cfg || n == 0 || n > ZCP_MAX_PROCESSES)
		return ZCP_EINVAL;
	cfg->max_processes = n;
	return 0;
}

int zcp_mempool_config_set_chunk_ages(zcp_mempool_config *cfg, int on)
{
	if (!cfg)
		return ZCP_EINVAL;
	cfg->chunk_ages = on != 0;
	return 0;
}

int zcp_mempool_config_set_topics(zcp_mempool_config *cfg, unsigned int max_topics,
				  unsigned int max_publishers, unsigned int max_subscribers,
				  unsigned int max_queue)
{
	if (!cfg || max_topics > ZCP__TOPICS_MAX || max_publishers > ZCP__TOPIC_ENDPOINTS_MAX ||
	    max_subscribers > ZCP__TOPIC_ENDPOINTS_MAX || max_queue > ZCP__RING_MAX)
		return ZCP_EINVAL;
	if (max_topics && (!max_publishers || !max_subscribers || !max_queue))
		return ZCP_EINVAL;
	cfg->max_topics = max_topics;
	cfg->max_publishers = max_topics ? max_publishers : 0;
	cfg->max_subscribers = max_topics ? max_subscribers : 0;
	cfg->max_queue = max_topics ? max_queue : 0;
	return 0;
}

int zcp_mempool_config_set_triggers(zcp_mempool_config *cfg, unsigned int max_triggers)
{
	if (!cfg || max_triggers > ZCP__TRIGGERS_MAX)
		return ZCP_EINVAL;
	cfg->max_triggers = max_triggers;
	return 0;
}

int zcp_mempool_config_set_access(zcp_mempool_config *cfg, unsigned int mode, long gid)
{
	if (!cfg || (mode & ~0660u) || gid < -1)
		return ZCP_EINVAL;
	cfg->mode = mode ? mode : 0600;
	cfg->gid = gid;
	return 0;
}

int zcp_mempool_config_set_backend(zcp_mempool_config *cfg, int backend)
{
	if (!cfg || (backend != ZCP_BACKEND_SHM && backend != ZCP_BACKEND_MEMFD))
		return ZCP_EINVAL;
#ifndef HAVE_MEMFD
	if (backend == ZCP_BACKEND_MEMFD)
		return ZCP_ENOSYS;
#endif
	cfg->backend = backend;
	return 0;
}

int zcp_mempool_config_pool_count(const zcp_mempool_config *cfg)
{
	return cfg ? (int)cfg->pool_count : ZCP_EINVAL;
}

void zcp_mempool_config_free(zcp_mempool_config *cfg)
{
	free(cfg);
}

/* Geometry of cfg; shared by create and zcp_mempool_config_layout(). */
int zcp__config_geometry(const zcp_mempool_config *cfg, struct zcp__geometry *g)
{
	if (!cfg || cfg->pool_count == 0)
		return ZCP_EINVAL;
	memset(g, 0, sizeof *g);
	g->pool_count = cfg->pool_count;
	g->max_processes = cfg->max_processes;
	memcpy(g->chunk_size, cfg->chunk_size, sizeof g->chunk_size);
	memcpy(g->chunk_count, cfg->chunk_count, sizeof g->chunk_count);
	g->max_topics = cfg->max_topics;
	g->max_publishers = cfg->max_publishers;
	g->max_subscribers = cfg->max_subscribers;
	unsigned ring = 1;
	while (ring < cfg->max_queue)
		ring <<= 1;
	g->ring_size = ring;
	g->max_triggers = cfg->max_triggers;
	return zcp__geometry_compute(g);
}

static void fill_layout(const struct zcp__geometry *g, zcp_mempool_layout *out)
{
	memset(out, 0, sizeof *out);
	out->mgmt_size = g->mgmt_size;
	out->data_size = g->data_size;
	out->total_chunks = g->total_chunks;
	out->record_size = ZCP__RECORD_SIZE;
	out->fixed_mgmt_size = g->records_off;
	out->topic_table_size = g->mgmt_size - (g->records_off + g->total_chunks * ZCP__RECORD_SIZE);
}

int zcp_mempool_config_layout(const zcp_mempool_config *cfg, zcp_mempool_layout *out)
{
	struct zcp__geometry g;
	if (!out)
		return ZCP_EINVAL;
	int err = zcp__config_geometry(cfg, &g);
	if (err)
		return err;
	fill_layout(&g, out);
	return 0;
}

int zcp_mempool_manager_get_layout(const zcp_mempool_manager *mgr, zcp_mempool_layout *out)
{
	int err = zcp__mgr_check(mgr);
	if (err)
		return err;
	if (!out)
		return ZCP_EINVAL;
	fill_layout(&mgr->geo, out);
	return 0;
}
