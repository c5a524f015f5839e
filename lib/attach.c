/* SPDX-License-Identifier: MIT */
/* Attaching with options: by name (manager.c) or through a broker
 * (broker.c), with the owner checks the options ask for. */
#include "handle.h"

#include <string.h>
#include <unistd.h>

void zcp_attach_options_init(zcp_attach_options *opts)
{
	if (!opts)
		return;
	memset(opts, 0, sizeof *opts);
	opts->owner_uid = ZCP_OWNER_SELF;
}

int zcp_mempool_manager_attach_opts(const char *name, const zcp_attach_options *opts,
				    zcp_mempool_manager **out)
{
	zcp_attach_options def;
	if (!opts) {
		zcp_attach_options_init(&def);
		opts = &def;
	}
	if (!out || opts->owner_uid < ZCP_OWNER_ANY || opts->owner_uid > INT32_MAX ||
	    opts->reserved0 || (opts->read_only & ~1))
		return ZCP_EINVAL;
	for (size_t i = 0; i < ZCP_ARRAY_SIZE(opts->reserved); i++)
		if (opts->reserved[i])
			return ZCP_EINVAL;
	if (opts->socket_path)
		return zcp__broker_attach(opts->socket_path, opts, out);
	long uid = opts->owner_uid == ZCP_OWNER_SELF ? (long)geteuid() : opts->owner_uid;
	return zcp__attach_named(name, uid, opts->read_only, out);
}
