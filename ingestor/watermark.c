/* watermark.c - the last safely handed-on event time, on disk. */
#include "watermark.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hs_time.h"

#define FILE_NAME "last_event_time"

int watermark_load(const char *dir, int64_t *ns, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, FILE_NAME);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[128] = "";
    bool ok = fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (!ok || hs_time_parse_iso(line, ns) != 0) {
        snprintf(err, errlen, "%s: not an ISO 8601 time", path);
        return -1;
    }
    return 0;
}

int watermark_store(const char *dir, int64_t ns, char *err, size_t errlen)
{
    char path[4096], tmp[4096 + 8], text[48];
    snprintf(path, sizeof(path), "%s/%s", dir, FILE_NAME);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (hs_time_format_iso(ns, text, sizeof(text) - 1) != 0) {
        snprintf(err, errlen, "time out of range");
        return -1;
    }
    strcat(text, "\n");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    size_t len = strlen(text);
    bool ok = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (!ok || rename(tmp, path) != 0) {
        if (ok)
            saved = errno;
        unlink(tmp);
        snprintf(err, errlen, "%s: %s", path, strerror(saved));
        return -1;
    }
    return 0;
}
