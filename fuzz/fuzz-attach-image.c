/* SPDX-License-Identifier: MIT */
/* libFuzzer target: validating a management segment image on attach.
 *
 * zcp__mgmt_validate() is what attach runs on a segment any peer may have
 * written: it must never read outside the image, and what it accepts must
 * be a geometry the rest of the library can trust (every offset and size
 * inside the image).  Inputs are used three ways, chosen by the first
 * byte, so the fuzzer explores near-valid images as well as raw ones:
 *   0: the input is the whole image;
 *   1: the input overwrites a valid image (built at init) from an offset;
 *   2: as 1, then the image is cut to a length taken from the input.
 * Every image is copied into a buffer of exactly its size, 8-aligned, so
 * AddressSanitizer sees any read past its end.
 */
#include "handle.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned char *valid;
static size_t valid_size;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char name[64];
	zcp_mempool_config *cfg = zcp_mempool_config_new();
	zcp_mempool_manager *m;

	(void)argc;
	(void)argv;
	snprintf(name, sizeof name, "fuzzimg%ld", (long)getpid());
	if (!cfg || zcp_mempool_config_add_entry(cfg, 256, 5) ||
	    zcp_mempool_config_add_entry(cfg, 1024, 3) || zcp_mempool_config_add_entry(cfg, 64, 2) ||
	    zcp_mempool_config_set_max_processes(cfg, 2) ||
	    zcp_mempool_manager_create(name, cfg, &m))
		abort();
	valid_size = m->geo.mgmt_size;
	valid = malloc(valid_size);
	if (!valid)
		abort();
	memcpy(valid, m->mgmt, valid_size);
	zcp_mempool_manager_destroy(m);
	zcp_mempool_config_free(cfg);
	return 0;
}

/* What validation accepted must hold together. */
static void check_geometry(const struct zcp__geometry *g, size_t real)
{
	if (g->mgmt_size != real || g->pool_count == 0 || g->pool_count > ZCP_MAX_POOLS ||
	    g->max_processes == 0 || g->max_processes > ZCP_MAX_PROCESSES)
		__builtin_trap();
	if (g->records_off + g->total_chunks * ZCP__RECORD_SIZE > real ||
	    g->procs_off + (uint64_t)g->max_processes * g->proc_size > real ||
	    g->pools_off + (uint64_t)g->pool_count * ZCP__POOL_DESC_SIZE > real)
		__builtin_trap();
	uint64_t chunks = 0;
	for (unsigned i = 0; i < g->pool_count; i++) {
		if (g->chunk_count[i] == 0 || g->chunk_count[i] > ZCP_MAX_CHUNKS_PER_POOL ||
		    g->first_record[i] != chunks ||
		    g->stride[i] < g->chunk_size[i] + ZCP__CHUNK_HEADER_SIZE ||
		    g->data_off[i] + (uint64_t)g->chunk_count[i] * g->stride[i] > g->data_size)
			__builtin_trap();
		chunks += g->chunk_count[i];
	}
	if (chunks != g->total_chunks)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zcp__geometry g;
	unsigned char *img;
	size_t len;

	if (size < 1)
		return 0;
	unsigned mode = data[0] % 3;
	data++;
	size--;
	if (mode == 0) {
		len = size;
		img = malloc(len ? len : 1);
		if (!img)
			return 0;
		memcpy(img, data, len);
	} else {
		uint32_t off = 0, cut = 0;
		if (size >= 4) {
			memcpy(&off, data, 4);
			data += 4;
			size -= 4;
		}
		if (mode == 2 && size >= 4) {
			memcpy(&cut, data, 4);
			data += 4;
			size -= 4;
		}
		/* Mostly aim at the header and the pool descriptors. */
		off = off & 0x80000000u ? off % (uint32_t)valid_size : off % 1024u;
		len = mode == 2 ? cut % (valid_size + 1) : valid_size;
		img = malloc(len ? len : 1);
		if (!img)
			return 0;
		memcpy(img, valid, len);
		for (size_t i = 0; i < size && off + i < len; i++)
			img[off + i] = data[i];
	}
	if (zcp__mgmt_validate(img, len, &g) == 0)
		check_geometry(&g, len);
	free(img);
	return 0;
}
