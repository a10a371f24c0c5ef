/* The floor of any reader of the lines file: one plain pass that reads it and splits it into
 * lines and fields (counts the separators), nothing else. tools/bench/onerun.py runs it beside
 * the engines so a reader's time can be read as a multiple of the least any reader must spend.
 *
 *   segstream-floor FILE   prints "floor: N lines, M fields, B bytes"
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { BLOCK = 1 << 20 };

int main(int argc, char **argv)
{
	static unsigned char block[BLOCK];
	uint64_t lines = 0, commas = 0, bytes = 0;
	int rc = 1;
	if (argc != 2) {
		fprintf(stderr, "usage: segstream-floor FILE\n");
		return 2;
	}
	int fd = open(argv[1], O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "floor: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (;;) {
		ssize_t n = read(fd, block, sizeof(block));
		if (n < 0) {
			fprintf(stderr, "floor: %s: %s\n", argv[1], strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		/* Counting with a plain loop: the compiler vectorises it, as a word-at-a-time scanner would. */
		for (ssize_t i = 0; i < n; i++) {
			lines += block[i] == '\n';
			commas += block[i] == ',';
		}
		bytes += (uint64_t)n;
	}
	printf("floor: %" PRIu64 " lines, %" PRIu64 " fields, %" PRIu64 " bytes\n", lines, commas + lines, bytes);
	rc = 0;
out:
	close(fd);
	return rc;
}
