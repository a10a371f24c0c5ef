/* Publishing a snapshot as files (see snapshot.h): a temporary directory, one file per row
 * sink written during the walk, report.json, every file fsynced, the manifest (columns, sizes,
 * CRC-32s) last, then one rename; older snapshots and dead publishers' leftovers are pruned. */
#define _GNU_SOURCE /* fopencookie, sync_file_range (Linux): paced write-back of the row files */
#include "snapshot/snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "snapshot/snapshot_int.h"

void snap_options_init(struct snap_options *o)
{
	memset(o, 0, sizeof *o);
	o->keep = 5;
	o->file_mode = 0640;
	o->events_topic = "segstream.events";
	o->sinks[o->n_sinks++] = &snap_sink_msgpack;
}

int snap_options_add_sink(struct snap_options *o, const struct snap_sink *sink)
{
	for (int i = 0; i < o->n_sinks; i++)
		if (o->sinks[i] == sink)
			return 0;
	if (o->n_sinks == SNAP_SINKS_MAX)
		return -1;
	o->sinks[o->n_sinks++] = sink;
	return 0;
}

int snap__sinks_row(struct snap__open_sink *sinks, int n, const struct snap_value *vals)
{
	for (int i = 0; i < n; i++) {
		int rc = sinks[i].sink->row(sinks[i].state, vals);
		if (rc != SNAP_OK)
			return rc;
	}
	return SNAP_OK;
}

static int fail_io(char *errbuf, size_t len, const char *what, const char *path)
{
	if (errbuf && len)
		snprintf(errbuf, len, "snapshot: %s %s: %s", what, path, strerror(errno));
	return SNAP_IO;
}

static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *e;
	char p[4200];
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof p, "%s/%s", path, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(path);
}

/* Keeps the newest `keep` snapshots and removes temporary directories of dead publishers. */
static void prune(const char *dir, int keep)
{
	size_t n;
	uint64_t *seqs = snap__list_sequences(dir, &n);
	char p[4200];
	for (size_t i = 0; keep > 0 && i + (size_t)keep < n; i++) {
		snprintf(p, sizeof p, "%s/%010" PRIu64, dir, seqs[i]);
		remove_tree(p);
	}
	free(seqs);
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		int pid;
		if (sscanf(e->d_name, ".tmp-%*u-%d", &pid) == 1 && (kill(pid, 0) != 0 && errno == ESRCH)) {
			snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
			remove_tree(p);
		}
	}
	closedir(d);
}

/*
 * A file of the snapshot. Writes go through this cookie, which starts the kernel's write-back
 * every 4 MiB (sync_file_range, asynchronous): the fsync before the rename then has little left
 * to do, so a snapshot does not hit the disk in one burst while the consumer commits its batches.
 */
struct out_file {
	FILE *f; /* the stream the writer uses; closing it closes fd */
	int fd;
	uint64_t written, flushed;
};

static ssize_t paced_write(void *cookie, const char *buf, size_t len)
{
	struct out_file *o = cookie;
	for (size_t done = 0; done < len;) {
		ssize_t n = write(o->fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0; /* an error, for stdio */
		done += (size_t)n;
	}
	o->written += len;
	if (o->written - o->flushed >= (4u << 20)) {
		sync_file_range(o->fd, (off64_t)o->flushed, (off64_t)(o->written - o->flushed), SYNC_FILE_RANGE_WRITE);
		o->flushed = o->written;
	}
	return (ssize_t)len;
}

static int paced_close(void *cookie)
{
	struct out_file *o = cookie;
	return close(o->fd);
}

/* Creates dir/name for writing with @p mode, whatever the umask. @return 0, or -1 (errno set). */
static int out_open(struct out_file *o, const char *dir, const char *name, unsigned mode)
{
	char path[4300];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	memset(o, 0, sizeof *o);
	o->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
	if (o->fd < 0)
		return -1;
	if (fchmod(o->fd, (mode_t)mode) != 0) {
		close(o->fd);
		return -1;
	}
	cookie_io_functions_t io = { .write = paced_write, .close = paced_close };
	if (!(o->f = fopencookie(o, "w", io))) {
		close(o->fd);
		return -1;
	}
	setvbuf(o->f, NULL, _IOFBF, 1 << 16);
	return 0;
}

/* Flushes, fsyncs and closes the file (always closed). @return 0, or -1 if any step failed. */
static int out_finish(struct out_file *o)
{
	if (!o->f)
		return 0;
	int rc = fflush(o->f) == 0 && !ferror(o->f) && fsync(o->fd) == 0 ? 0 : -1;
	if (fclose(o->f) != 0)
		rc = -1;
	o->f = NULL;
	return rc;
}

/* The manifest: what the snapshot holds and covers, its columns, and the size and CRC-32 of each file. */
static int write_manifest(FILE *f, const char *tmp, uint64_t seq, const struct snap_report *report,
			  const struct snap__coverage *cov, const char *const *files, int n_files)
{
	const struct snap__offset *offsets = cov->offsets;
	size_t n_offsets = cov->n_offsets;
	char day[16];
	const char *as_of = snap_as_of_text(report->event_time_max_ms, day, sizeof day);
	fprintf(f, "{\n  \"format\": %d,\n  \"sequence\": %" PRIu64 ",\n  \"created_unix\": %lld,\n",
		SNAP_FORMAT_VERSION, seq, (long long)time(NULL));
	/* The event-time watermark (format 3): what "as of" a report of this snapshot means. */
	if (as_of)
		fprintf(f, "  \"event_time_max_ms\": %" PRId64 ",\n  \"as_of\": \"%s\",\n", report->event_time_max_ms,
			as_of);
	else
		fprintf(f, "  \"event_time_max_ms\": null,\n  \"as_of\": null,\n");
	fprintf(f, "  \"customers\": %" PRIu64 ",\n  \"source_offsets\": [", report->customers);
	for (size_t i = 0; i < n_offsets; i++)
		fprintf(f, "%s\n    {\"topic\": \"%s\", \"partition\": %d, \"next_offset\": %" PRId64 "}", i ? "," : "",
			offsets[i].topic, offsets[i].partition, offsets[i].next);
	/* The partitions of the events topic this snapshot covers: what a merge of several
	 * instances' snapshots checks for overlaps (snap_merge). */
	fprintf(f, "\n  ],\n  \"events_topic\": \"%s\",\n  \"partitions\": [", cov->events_topic);
	for (size_t i = 0; i < cov->n_partitions; i++)
		fprintf(f, "%s%d", i ? ", " : "", cov->partitions[i]);
	fprintf(f, "],\n  \"columns\": [");
	size_t n_cols;
	const struct snap_column *cols = snap_columns(&n_cols);
	for (size_t i = 0; i < n_cols; i++)
		fprintf(f, "%s\n    {\"name\": \"%s\", \"type\": \"%s\", \"nullable\": %s}", i ? "," : "", cols[i].name,
			snap_type_name(cols[i].type), cols[i].flags & SNAP_NULLABLE ? "true" : "false");
	fprintf(f, "\n  ],\n  \"files\": [");
	for (int i = 0; i < n_files; i++) {
		char fp[4300];
		uint64_t size;
		uint32_t crc;
		snprintf(fp, sizeof fp, "%s/%s", tmp, files[i]);
		if (snap__file_crc(fp, &size, &crc) != 0)
			return -1;
		fprintf(f, "%s\n    {\"name\": \"%s\", \"bytes\": %" PRIu64 ", \"crc32\": %" PRIu32 "}", i ? "," : "",
			files[i], size, crc);
	}
	fprintf(f, "\n  ]\n}\n");
	return ferror(f) ? -1 : 0;
}

/* The content of a snapshot of the state: one walk. */
struct state_source {
	struct state_db *db;
	const struct segment_config *cfg;
};

static int fill_from_state(void *ctx, const struct snap__clusters_start *start, struct snap__open_sink *sinks, int n,
			   struct snap_report *r, struct snap__coverage *cov, char *errbuf, size_t errbuf_len)
{
	struct state_source *src = ctx;
	(void)errbuf, (void)errbuf_len;
	return snap__walk(src->db, src->cfg, start, sinks, n, r, cov);
}

int snap_publish_files(struct state_db *db, const struct segment_config *cfg, const struct snap_options *opts,
		       const char *dir, uint64_t *seq_out, struct snap_report *report_out, char *errbuf,
		       size_t errbuf_len)
{
	struct state_source src = { db, cfg };
	return snap__publish(fill_from_state, &src, cfg, opts, dir, seq_out, report_out, errbuf, errbuf_len);
}

int snap__publish(snap__fill_fn fill, void *ctx, const struct segment_config *cfg, const struct snap_options *opts,
		  const char *dir, uint64_t *seq_out, struct snap_report *report_out, char *errbuf, size_t errbuf_len)
{
	char tmp[4096] = "", final[4096], path[4200];
	struct snap_report *report = calloc(1, sizeof *report);
	struct out_file out[SNAP_SINKS_MAX], json = { 0 }, manifest = { 0 };
	struct snap__open_sink sinks[SNAP_SINKS_MAX];
	const char *files[SNAP_SINKS_MAX + 1];
	struct snap__coverage cov = { .events_topic = opts->events_topic ? opts->events_topic : "segstream.events" };
	struct snap__clusters_start start;
	int n_open = 0, n_started = 0, n_files = 0, rc = SNAP_IO; /* files created, sinks opened */
	if (!report)
		return SNAP_NOMEM;
	const mode_t dir_mode = STATE_DIR_MODE(opts->file_mode);
	if (mkdir(dir, dir_mode) == 0 ? chmod(dir, dir_mode) != 0 : errno != EEXIST) {
		rc = fail_io(errbuf, errbuf_len, "mkdir", dir);
		goto out;
	}
	size_t n_seqs;
	uint64_t *seqs = snap__list_sequences(dir, &n_seqs);
	uint64_t seq = n_seqs ? seqs[n_seqs - 1] + 1 : 1;
	/* the clusters start from the previous snapshot's centres, so they stay put between snapshots */
	int warm = n_seqs && snap__clusters_previous(dir, seqs[n_seqs - 1], cfg, &start);
	free(seqs);
	snprintf(final, sizeof final, "%s/%010" PRIu64, dir, seq);
	snprintf(tmp, sizeof tmp, "%s/.tmp-%010" PRIu64 "-%d", dir, seq, (int)getpid());
	if (mkdir(tmp, dir_mode) != 0 || chmod(tmp, dir_mode) != 0) {
		rc = fail_io(errbuf, errbuf_len, "mkdir", tmp);
		tmp[0] = 0; /* not ours to remove */
		goto out;
	}
	/* The rows, to every sink during the one walk. */
	for (int i = 0; i < opts->n_sinks; i++) {
		const struct snap_sink *s = opts->sinks[i];
		if (out_open(&out[i], tmp, s->file_name, opts->file_mode) != 0) {
			rc = fail_io(errbuf, errbuf_len, "create", s->file_name);
			goto out;
		}
		n_open++;
		sinks[i].sink = s;
		if ((rc = s->open(out[i].f, &sinks[i].state)) != SNAP_OK) {
			rc = rc == SNAP_NOMEM ? rc : fail_io(errbuf, errbuf_len, "start", s->file_name);
			goto out;
		}
		n_started++;
		files[n_files++] = s->file_name;
	}
	errno = 0;
	char why[512] = "";
	rc = fill(ctx, warm ? &start : NULL, sinks, n_started, report, &cov, why, sizeof why);
	if (rc == SNAP_IO && errno) /* a sink's write failed: say why (a full disk: ENOSPC) */
		rc = fail_io(errbuf, errbuf_len, "write rows in", tmp);
	else if (rc != SNAP_OK && errbuf && errbuf_len)
		snprintf(errbuf, errbuf_len, "snapshot: %s%s%s", snap_strerror(rc), why[0] ? ": " : "", why);
	for (int i = 0; i < n_open; i++) {
		int crc = sinks[i].sink->close(sinks[i].state);
		if (out_finish(&out[i]) != 0 && rc == SNAP_OK)
			rc = fail_io(errbuf, errbuf_len, "write", sinks[i].sink->file_name);
		else if (crc != SNAP_OK && rc == SNAP_OK)
			rc = fail_io(errbuf, errbuf_len, "finish", sinks[i].sink->file_name);
	}
	n_open = n_started = 0;
	if (rc != SNAP_OK)
		goto out;
	/* The report. */
	files[n_files++] = "report.json";
	if (out_open(&json, tmp, "report.json", opts->file_mode) != 0 ||
	    snap_report_write_json(report, json.f) != SNAP_OK || out_finish(&json) != 0) {
		rc = fail_io(errbuf, errbuf_len, "write", "report.json");
		goto out;
	}
	/* The manifest last: sizes and checksums of what is already on disk. */
	snprintf(path, sizeof path, "%s/manifest.json", tmp);
	if (out_open(&manifest, tmp, "manifest.json", opts->file_mode) != 0 ||
	    write_manifest(manifest.f, tmp, seq, report, &cov, files, n_files) != 0 || out_finish(&manifest) != 0 ||
	    fsync_dir(tmp) != 0) {
		rc = fail_io(errbuf, errbuf_len, "write", path);
		goto out;
	}
	if (rename(tmp, final) != 0) {
		rc = fail_io(errbuf, errbuf_len, "rename to", final);
		goto out;
	}
	tmp[0] = 0;
	if (fsync_dir(dir) != 0) {
		rc = fail_io(errbuf, errbuf_len, "fsync", dir);
		goto out;
	}
	prune(dir, opts->keep);
	*seq_out = seq;
	if (report_out)
		*report_out = *report;
	rc = SNAP_OK;
out:
	for (int i = 0; i < n_open; i++) {
		if (i < n_started)
			sinks[i].sink->close(sinks[i].state);
		out_finish(&out[i]);
	}
	out_finish(&json);
	out_finish(&manifest);
	if (rc != SNAP_OK && tmp[0])
		remove_tree(tmp);
	snap__coverage_free(&cov);
	free(report);
	return rc;
}
