/* standalone.c - replays fuzz corpora through LLVMFuzzerTestOneInput without
 * libFuzzer, so every build (gcc, valgrind, ASan) runs the seed and crash
 * inputs as an ordinary test.
 *
 *   fuzz-<target> FILE_OR_DIR...
 *
 * Every regular file named (or found directly inside a named directory, in
 * name order, dot files skipped) is read whole and passed once to the
 * target. A target reports a broken property by aborting, so reaching the
 * end means every input passed. Exits 0, or 1 when an argument cannot be
 * read or no input was found at all (an empty corpus is a packaging bug). */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads path into a malloc'd buffer (never NULL on success, even when the
 * file is empty). Returns 0, or -1 after printing why. */
static int read_file(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf != NULL) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
        if (n == cap) {
            uint8_t *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    int failed = ferror(f);
    fclose(f);
    if (buf == NULL || failed) {
        fprintf(stderr, "%s: cannot read\n", path);
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* Runs one file. Returns 0, or -1 when it cannot be read. */
static int run_file(const char *path)
{
    uint8_t *buf;
    size_t len;
    if (read_file(path, &buf, &len) < 0)
        return -1;
    /* An exact-size copy, so ASan sees reads past the end of the input. */
    uint8_t *exact = malloc(len > 0 ? len : 1);
    if (exact == NULL) {
        free(buf);
        return -1;
    }
    if (len > 0)
        memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file directly inside dir, in name order. Returns the
 * number run, or -1 on an error. */
static long run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    long rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **bigger = realloc(names, ncap * sizeof *names);
            if (bigger == NULL) {
                rc = -1;
                break;
            }
            names = bigger;
            cap = ncap;
        }
        size_t plen = strlen(dir) + strlen(e->d_name) + 2;
        names[n] = malloc(plen);
        if (names[n] == NULL) {
            rc = -1;
            break;
        }
        snprintf(names[n], plen, "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (rc == 0 && n > 0)
        qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (rc >= 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            if (run_file(names[i]) < 0)
                rc = -1;
            else
                rc++;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    long total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        long n;
        if (S_ISDIR(st.st_mode)) {
            n = run_dir(argv[i]);
        } else {
            n = run_file(argv[i]) == 0 ? 1 : -1;
        }
        if (n < 0)
            return 1;
        total += n;
    }
    if (total == 0) {
        fprintf(stderr, "%s: no input to replay\n", argc > 0 ? argv[0] : "fuzz");
        return 1;
    }
    printf("%ld inputs replayed\n", total);
    return 0;
}
