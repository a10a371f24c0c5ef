/* The msgpack row sink (customers.msgpack): one msgpack array per row, one element per column
 * of the column table (nil for a null), concatenated. This is the file the reader reads. */
#include "snapshot/snapshot.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

struct msgpack_sink {
	msgpack_packer pk;
	FILE *f;
};

static int write_file(void *data, const char *buf, size_t len)
{
	return fwrite(buf, 1, len, data) == len ? 0 : -1;
}

static int sink_open(FILE *f, void **sink_out)
{
	struct msgpack_sink *s = malloc(sizeof *s);
	if (!s)
		return SNAP_NOMEM;
	s->f = f;
	msgpack_packer_init(&s->pk, f, write_file);
	*sink_out = s;
	return SNAP_OK;
}

static int sink_row(void *sink, const struct snap_value *vals)
{
	struct msgpack_sink *s = sink;
	size_t n;
	const struct snap_column *cols = snap_columns(&n);
	int bad = msgpack_pack_array(&s->pk, n);
	for (size_t i = 0; i < n; i++) {
		const struct snap_value val = vals[i];
		if (val.null) {
			bad |= msgpack_pack_nil(&s->pk);
			continue;
		}
		switch (cols[i].type) {
		case SNAP_INT:
			bad |= val.i >= 0 ? msgpack_pack_uint64(&s->pk, (uint64_t)val.i)
					  : msgpack_pack_int64(&s->pk, val.i);
			break;
		case SNAP_REAL:
			bad |= msgpack_pack_double(&s->pk, val.r);
			break;
		case SNAP_TEXT: {
			size_t len = strlen(val.s);
			bad |= msgpack_pack_str(&s->pk, len) | msgpack_pack_str_body(&s->pk, val.s, len);
			break;
		}
		}
	}
	return bad ? SNAP_IO : SNAP_OK;
}

static int sink_close(void *sink)
{
	free(sink);
	return SNAP_OK;
}

const struct snap_sink snap_sink_msgpack = { "customers.msgpack", sink_open, sink_row, sink_close };
