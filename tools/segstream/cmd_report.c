/* segstream report: the stakeholder outputs of one published snapshot, the workbook (report/)
 * and the chart set (tools/python/charts.py, run with the project's .venv python). */
#include <ctype.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report/report.h"
#include "snapshot/snapshot_reader.h"
#include "tools/segstream/cli.h"

/*
 * DIR is the snapshots directory (the newest, or --sequence) or one snapshot directory itself
 * (DIR/NNNNNNNNNN with its manifest.json): then root_out is its parent and seq_out its number.
 */
static void resolve_dir(const char *dir, char *root_out, size_t len, uint64_t *seq_out)
{
	snprintf(root_out, len, "%s", dir);
	size_t n = strlen(root_out);
	while (n > 1 && root_out[n - 1] == '/')
		root_out[--n] = 0;
	char *base = strrchr(root_out, '/');
	const char *name = base ? base + 1 : root_out;
	if (strlen(name) != 10)
		return;
	for (int i = 0; i < 10; i++)
		if (!isdigit((unsigned char)name[i]))
			return;
	char manifest[PATH_MAX + 32];
	struct stat st;
	snprintf(manifest, sizeof manifest, "%s/manifest.json", root_out);
	if (stat(manifest, &st) != 0)
		return;
	*seq_out = strtoull(name, NULL, 10);
	if (!base)
		snprintf(root_out, len, ".");
	else if (base == root_out)
		root_out[1] = 0;
	else
		*base = 0;
}

/*
 * The chart set: python3 (SEGSTREAM_PYTHON, else the source tree's .venv/bin/python) runs
 * tools/python/charts.py SNAPSHOT_PATH OUT_DIR [DEPARTMENTS_CSV]. @return 0, or 1 (message printed).
 */
static int run_charts(const char *snapshot_path, const char *out_dir)
{
	const char *py = getenv("SEGSTREAM_PYTHON");
	char venv[PATH_MAX], script[PATH_MAX], depts[PATH_MAX];
	snprintf(venv, sizeof venv, "%s/.venv/bin/python", SEGSTREAM_SOURCE_DIR);
	snprintf(script, sizeof script, "%s/tools/python/charts.py", SEGSTREAM_SOURCE_DIR);
	/* Department names: the bundled catalog's (Instacart's ids, which gen keeps), if present. */
	snprintf(depts, sizeof depts, "%s/data/instacart/departments.csv", SEGSTREAM_SOURCE_DIR);
	if (access(depts, R_OK) != 0)
		depts[0] = 0;
	if (!py || !*py)
		py = venv;
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		perror("segstream report: fork");
		return 1;
	}
	if (pid == 0) {
		if (depts[0])
			execl(py, py, script, snapshot_path, out_dir, depts, (char *)NULL);
		else
			execl(py, py, script, snapshot_path, out_dir, (char *)NULL);
		fprintf(stderr, "segstream report: cannot run %s: ", py);
		perror(NULL);
		_exit(127);
	}
	int status;
	if (waitpid(pid, &status, 0) < 0) {
		perror("segstream report: waitpid");
		return 1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "segstream report: the chart set failed (%s %s)\n", py, script);
		return 1;
	}
	return 0;
}

int cmd_report(int argc, char **argv)
{
	const char *xlsx = NULL, *charts = NULL;
	uint64_t seq = 0;
	static const struct option opts[] = {
		{ "xlsx", required_argument, 0, 'x' },
		{ "charts", required_argument, 0, 'c' },
		{ "sequence", required_argument, 0, 's' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "x:c:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'x':
			xlsx = optarg;
			break;
		case 'c':
			charts = optarg;
			break;
		case 's':
			if (cli_parse_u64("--sequence", optarg, 1, UINT64_MAX, &seq))
				return 2;
			break;
		case 'h':
			printf("usage: segstream report SNAPSHOT_DIR [--sequence N (the newest)] [--xlsx OUT.xlsx] "
			       "[--charts DIR]\n"
			       "  SNAPSHOT_DIR: a snapshots directory, or one snapshot's directory (DIR/NNNNNNNNNN)\n"
			       "  --xlsx: the stakeholder workbook; --charts: the chart set, PNG and SVG (Python,\n"
			       "  matplotlib: SEGSTREAM_PYTHON, else the source tree's .venv/bin/python)\n");
			return 0;
		default:
			return 2;
		}
	}
	if (optind != argc - 1 || (!xlsx && !charts)) {
		fprintf(stderr, "usage: segstream report SNAPSHOT_DIR [--sequence N] [--xlsx OUT.xlsx] [--charts DIR] "
				"(one of --xlsx and --charts at least)\n");
		return 2;
	}
	char root[PATH_MAX], err[512];
	uint64_t dir_seq = 0;
	resolve_dir(argv[optind], root, sizeof root, &dir_seq);
	if (dir_seq && seq && seq != dir_seq) {
		fprintf(stderr, "segstream report: --sequence %" PRIu64 " but %s is snapshot %" PRIu64 "\n", seq,
			argv[optind], dir_seq);
		return 2;
	}
	struct snap_reader *r;
	int rc = snap_reader_open(root, dir_seq ? dir_seq : seq, &r, err, sizeof err);
	if (rc != SNAP_OK) {
		fprintf(stderr, "segstream report: %s: %s\n", snap_strerror(rc), err);
		return 1;
	}
	int status = 0;
	if (xlsx) {
		rc = report_write_xlsx(r, xlsx, err, sizeof err);
		if (rc != REPORT_OK) {
			fprintf(stderr, "segstream report: %s: %s\n", report_strerror(rc), err);
			status = 1;
		} else {
			printf("report: workbook of snapshot %" PRIu64 " in %s\n", snap_reader_sequence(r), xlsx);
		}
	}
	if (charts && status == 0) {
		status = run_charts(snap_reader_path(r), charts);
		if (status == 0)
			printf("report: charts of snapshot %" PRIu64 " in %s\n", snap_reader_sequence(r), charts);
	}
	snap_reader_close(r);
	return status;
}
