/* SPDX-License-Identifier: MIT */
/* lib/name.c - validation of object names and shm path construction. */
#include "internal.h"

#include <string.h>

int zcp__name_valid(const char *name, size_t max)
{
	size_t i;

	if (name == NULL || name[0] == '\0' || name[0] == '.')
		return ZCP_EINVAL;
	/*
	 * Only a portable filename character set: no '/', which shm_open()
	 * forbids past the first byte, no spaces or bytes that a shell or a
	 * log would mangle, nothing outside ASCII.  A leading '.' would make
	 * "..", and hidden files in /dev/shm.
	 */
	for (i = 0; name[i] != '\0'; i++) {
		unsigned char c = (unsigned char)name[i];

		if (i >= max)
			return ZCP_EINVAL;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return ZCP_EINVAL;
	}
	return 0;
}

int zcp__shm_path(char *buf, size_t bufsz, const char *name, const char *suffix)
{
	size_t plen = strlen(ZCP__SHM_PREFIX), nlen, slen;

	if (buf == NULL || bufsz == 0 || name == NULL)
		return ZCP_EINVAL;
	if (suffix == NULL)
		suffix = "";
	nlen = strlen(name);
	slen = strlen(suffix);
	/* '/', prefix, name, suffix and the NUL; no sum can overflow here
	 * since all are lengths of objects in memory, but check anyway. */
	if (nlen > bufsz || slen > bufsz || 1 + plen + nlen + slen + 1 > bufsz) {
		buf[0] = '\0';
		return ZCP_ENAMETOOLONG;
	}
	buf[0] = '/';
	memcpy(buf + 1, ZCP__SHM_PREFIX, plen);
	memcpy(buf + 1 + plen, name, nlen);
	memcpy(buf + 1 + plen + nlen, suffix, slen + 1);
	return 0;
}
