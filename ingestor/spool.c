/* spool.c - the on-disk spool: events kept while Kafka cannot take them. */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#define HEADER 8u     /* u32 length + u32 crc */
#define BODY_FIXED 4u /* u8 tag, u8 0, u16 key length */
#define NO_KEY 0xffffu
#define MAX_BODY (64u * 1024 * 1024)

struct spool {
    char *dir;
    uint64_t max_bytes, segment_bytes;
    uint64_t *segs; /* segment ids on disk, ascending */
    size_t nsegs, capsegs;
    uint64_t last_id; /* highest segment id used or named by the cursor */

    int wfd;             /* newest segment, appended to; -1 before the first append */
    uint64_t wsize;      /* its size */
    unsigned char *wbuf; /* write buffer, flushed by spool_sync/peek/close */
    size_t wlen, wcap;

    int rfd;       /* oldest segment, read from; -1 when not open */
    uint64_t rseg; /* its id */
    uint64_t roff; /* next record's offset in it */
    unsigned char *rbuf;
    size_t rcap;
    uint32_t peeked; /* body length of the record peek returned; 0: none */

    uint64_t records, bytes, corrupt;
};

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void seg_path(const spool *s, uint64_t id, char *buf, size_t len)
{
    snprintf(buf, len, "%s/seg-%016" PRIu64 ".log", s->dir, id);
}

static int add_seg(spool *s, uint64_t id)
{
    if (s->nsegs == s->capsegs) {
        size_t cap = s->capsegs ? s->capsegs * 2 : 16;
        uint64_t *p = realloc(s->segs, cap * sizeof(*p));
        if (p == NULL)
            return -1;
        s->segs = p;
        s->capsegs = cap;
    }
    s->segs[s->nsegs++] = id;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Lists the segment files of dir into s->segs, ascending. */
static int list_segments(spool *s, char *err, size_t errlen)
{
    DIR *d = opendir(s->dir);
    if (d == NULL) {
        snprintf(err, errlen, "%s: %s", s->dir, strerror(errno));
        return -1;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint64_t id;
        char tail[8];
        if (strlen(de->d_name) == 24 &&
            sscanf(de->d_name, "seg-%16" SCNu64 "%4s", &id, tail) == 2 &&
            strcmp(tail, ".log") == 0) {
            if (add_seg(s, id) != 0) {
                closedir(d);
                snprintf(err, errlen, "out of memory");
                return -1;
            }
        }
    }
    closedir(d);
    if (s->nsegs > 1)
        qsort(s->segs, s->nsegs, sizeof(uint64_t), cmp_u64);
    return 0;
}

static void write_cursor(const spool *s)
{
    char path[4096], tmp[4200], line[64];
    snprintf(path, sizeof(path), "%s/cursor", s->dir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int n = snprintf(line, sizeof(line), "%" PRIu64 " %" PRIu64 "\n", s->rseg, s->roff);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    bool ok = write(fd, line, (size_t)n) == n;
    close(fd);
    if (!ok || rename(tmp, path) != 0)
        unlink(tmp);
}

static void read_cursor(const spool *s, uint64_t *seg, uint64_t *off)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/cursor", s->dir);
    *seg = 0;
    *off = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    if (fscanf(f, "%" SCNu64 " %" SCNu64, seg, off) != 2) {
        *seg = 0;
        *off = 0;
    }
    fclose(f);
}

/* Reads exactly len bytes at off. Returns 0, 1 at (or before) the end of
 * the file, -1 on error. */
static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            return 1;
        got += (size_t)n;
    }
    return 0;
}

static int ensure_rbuf(spool *s, size_t len)
{
    if (len <= s->rcap)
        return 0;
    size_t cap = s->rcap ? s->rcap : 65536;
    while (cap < len)
        cap *= 2;
    unsigned char *p = realloc(s->rbuf, cap);
    if (p == NULL)
        return -1;
    s->rbuf = p;
    s->rcap = cap;
    return 0;
}

/* Walks segment id from offset off, counting the records whose CRC holds up
 * to the first bad one; with repair, cuts the file there. */
static int scan_segment(spool *s, uint64_t id, uint64_t off, bool repair, char *err,
                        size_t errlen)
{
    char path[4200];
    seg_path(s, id, path, sizeof(path));
    int fd = open(path, (repair ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    uint64_t size = (uint64_t)st.st_size;
    while (off < size) {
        unsigned char h[HEADER];
        bool bad = read_at(fd, h, HEADER, off) != 0;
        uint32_t len = bad ? 0 : get_u32(h);
        if (!bad && (len < BODY_FIXED || len > MAX_BODY || off + HEADER + len > size))
            bad = true;
        if (!bad) {
            if (ensure_rbuf(s, len) != 0 ||
                read_at(fd, s->rbuf, len, off + HEADER) != 0 ||
                (uint32_t)crc32(0L, s->rbuf, len) != get_u32(h + 4))
                bad = true;
        }
        if (bad) {
            if (repair) {
                if (ftruncate(fd, (off_t)off) != 0) {
                    snprintf(err, errlen, "%s: %s", path, strerror(errno));
                    close(fd);
                    return -1;
                }
                size = off;
            } else {
                s->corrupt++;
            }
            break;
        }
        s->records++;
        s->bytes += HEADER + len;
        off += HEADER + len;
    }
    if (repair && id == s->segs[s->nsegs - 1])
        s->wsize = size;
    close(fd);
    return 0;
}

spool *spool_open(const char *dir, uint64_t max_bytes, uint64_t segment_bytes, char *err,
                  size_t errlen)
{
    spool *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->wfd = -1;
    s->rfd = -1;
    s->max_bytes = max_bytes;
    s->segment_bytes = segment_bytes > 0 ? segment_bytes : 8u * 1024 * 1024;
    s->dir = strdup(dir);
    if (s->dir == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        goto fail;
    }
    if (access(dir, W_OK) != 0) {
        snprintf(err, errlen, "%s is not writable: %s", dir, strerror(errno));
        goto fail;
    }
    if (list_segments(s, err, errlen) != 0)
        goto fail;
    uint64_t cseg, coff;
    read_cursor(s, &cseg, &coff);
    s->last_id = cseg;
    if (s->nsegs > 0 && s->segs[s->nsegs - 1] > s->last_id)
        s->last_id = s->segs[s->nsegs - 1];
    /* Segments before the cursor's were consumed completely. */
    while (s->nsegs > 0 && s->segs[0] < cseg) {
        char path[4200];
        seg_path(s, s->segs[0], path, sizeof(path));
        unlink(path);
        memmove(s->segs, s->segs + 1, (s->nsegs - 1) * sizeof(uint64_t));
        s->nsegs--;
    }
    if (s->nsegs > 0) {
        s->rseg = s->segs[0];
        s->roff = s->segs[0] == cseg ? coff : 0;
        for (size_t i = 0; i < s->nsegs; i++) {
            bool newest = i + 1 == s->nsegs;
            if (scan_segment(s, s->segs[i], i == 0 ? s->roff : 0, newest, err, errlen) !=
                0)
                goto fail;
        }
    }
    return s;
fail:
    spool_close(s);
    return NULL;
}

static int flush_wbuf(spool *s)
{
    size_t done = 0;
    while (done < s->wlen) {
        ssize_t n = write(s->wfd, s->wbuf + done, s->wlen - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        done += (size_t)n;
    }
    s->wlen = 0;
    return 0;
}

/* Counts the readable records again after corruption was found. */
static void recount(spool *s)
{
    char err[256];
    uint64_t corrupt = s->corrupt;
    if (s->wfd >= 0)
        flush_wbuf(s);
    s->records = 0;
    s->bytes = 0;
    for (size_t i = 0; i < s->nsegs; i++)
        scan_segment(s, s->segs[i], i == 0 ? s->roff : 0, false, err, sizeof(err));
    s->corrupt = corrupt;
}

void spool_close(spool *s)
{
    if (s == NULL)
        return;
    if (s->wfd >= 0) {
        flush_wbuf(s);
        fdatasync(s->wfd);
        close(s->wfd);
    }
    if (s->rfd >= 0)
        close(s->rfd);
    if (s->dir != NULL && s->nsegs > 0)
        write_cursor(s);
    free(s->segs);
    free(s->wbuf);
    free(s->rbuf);
    free(s->dir);
    free(s);
}

/* Opens segment id for appending (creating it). */
static int open_write(spool *s, uint64_t id, char *err, size_t errlen)
{
    char path[4200];
    seg_path(s, id, path, sizeof(path));
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    s->wsize = fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    s->wfd = fd;
    return 0;
}

int spool_append(spool *s, int tag, const void *key, size_t keylen, const void *payload,
                 size_t len, char *err, size_t errlen)
{
    if (key == NULL)
        keylen = 0;
    if (keylen >= NO_KEY || BODY_FIXED + keylen + len > MAX_BODY) {
        snprintf(err, errlen, "record too large for the spool");
        return -1;
    }
    uint32_t body = (uint32_t)(BODY_FIXED + keylen + len);
    uint64_t rec = HEADER + body;
    if (s->bytes + rec > s->max_bytes)
        return -1;
    if (s->wfd < 0 || (s->wsize > 0 && s->wsize + rec > s->segment_bytes)) {
        /* Continue the newest segment after a restart; else start a new one. */
        uint64_t id = s->wfd < 0 && s->nsegs > 0 ? s->segs[s->nsegs - 1] : s->last_id + 1;
        if (s->wfd >= 0) {
            if (flush_wbuf(s) != 0) {
                snprintf(err, errlen, "spool write: %s", strerror(errno));
                return -2;
            }
            close(s->wfd);
            s->wfd = -1;
        }
        if (id > s->last_id)
            s->last_id = id;
        if (s->nsegs == 0 || s->segs[s->nsegs - 1] != id) {
            if (add_seg(s, id) != 0) {
                snprintf(err, errlen, "out of memory");
                return -2;
            }
            if (s->nsegs == 1) {
                s->rseg = id;
                s->roff = 0;
            }
        }
        if (open_write(s, id, err, errlen) != 0)
            return -2;
    }
    if (s->wlen + rec > s->wcap) {
        size_t cap = s->wcap ? s->wcap : 65536;
        while (cap < s->wlen + rec)
            cap *= 2;
        unsigned char *p = realloc(s->wbuf, cap);
        if (p == NULL) {
            snprintf(err, errlen, "out of memory");
            return -2;
        }
        s->wbuf = p;
        s->wcap = cap;
    }
    unsigned char *h = s->wbuf + s->wlen;
    unsigned char *b = h + HEADER;
    b[0] = (unsigned char)tag;
    b[1] = 0;
    uint16_t kl = key != NULL ? (uint16_t)keylen : (uint16_t)NO_KEY;
    b[2] = (unsigned char)kl;
    b[3] = (unsigned char)(kl >> 8);
    if (keylen > 0)
        memcpy(b + BODY_FIXED, key, keylen);
    if (len > 0)
        memcpy(b + BODY_FIXED + keylen, payload, len);
    put_u32(h, body);
    put_u32(h + 4, (uint32_t)crc32(0L, b, body));
    s->wlen += rec;
    s->wsize += rec;
    s->records++;
    s->bytes += rec;
    if (s->wlen >= 1024 * 1024 && flush_wbuf(s) != 0) {
        snprintf(err, errlen, "spool write: %s", strerror(errno));
        return -2;
    }
    return 0;
}

int spool_sync(spool *s, char *err, size_t errlen)
{
    if (s->wfd < 0)
        return 0;
    if (flush_wbuf(s) != 0 || fdatasync(s->wfd) != 0) {
        snprintf(err, errlen, "spool sync: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Deletes the finished read segment and moves to the next one. */
static void next_segment(spool *s)
{
    if (s->rfd >= 0) {
        close(s->rfd);
        s->rfd = -1;
    }
    char path[4200];
    seg_path(s, s->rseg, path, sizeof(path));
    unlink(path);
    memmove(s->segs, s->segs + 1, (s->nsegs - 1) * sizeof(uint64_t));
    s->nsegs--;
    s->rseg = s->nsegs > 0 ? s->segs[0] : s->rseg + 1;
    s->roff = 0;
    write_cursor(s);
}

int spool_peek(spool *s, int *tag, const void **key, size_t *keylen, const void **payload,
               size_t *len)
{
    s->peeked = 0;
    for (;;) {
        if (s->records == 0 || s->nsegs == 0)
            return 1;
        bool writing = s->wfd >= 0 && s->segs[s->nsegs - 1] == s->rseg;
        if (writing && s->wlen > 0 && flush_wbuf(s) != 0)
            return -1;
        if (s->rfd < 0) {
            char path[4200];
            seg_path(s, s->rseg, path, sizeof(path));
            s->rfd = open(path, O_RDONLY | O_CLOEXEC);
            if (s->rfd < 0)
                return -1;
        }
        unsigned char h[HEADER];
        int rc = read_at(s->rfd, h, HEADER, s->roff);
        if (rc < 0)
            return -1;
        if (rc == 1) {
            if (writing || s->nsegs == 1)
                return 1;
            next_segment(s);
            continue;
        }
        uint32_t body = get_u32(h);
        if (body < BODY_FIXED || body > MAX_BODY || ensure_rbuf(s, body) != 0 ||
            read_at(s->rfd, s->rbuf, body, s->roff + HEADER) != 0 ||
            (uint32_t)crc32(0L, s->rbuf, body) != get_u32(h + 4)) {
            /* Corrupt: the rest of this segment cannot be framed. */
            s->corrupt++;
            if (writing || s->nsegs == 1) {
                s->records = 0;
                s->bytes = 0;
                return 1;
            }
            next_segment(s);
            recount(s);
            continue;
        }
        uint16_t kl = (uint16_t)(s->rbuf[2] | s->rbuf[3] << 8);
        size_t klen = kl == NO_KEY ? 0 : kl;
        if (BODY_FIXED + klen > body) {
            s->corrupt++;
            s->roff += HEADER + body;
            continue;
        }
        *tag = s->rbuf[0];
        *key = kl == NO_KEY ? NULL : s->rbuf + BODY_FIXED;
        *keylen = klen;
        *payload = s->rbuf + BODY_FIXED + klen;
        *len = body - BODY_FIXED - klen;
        s->peeked = body;
        return 0;
    }
}

void spool_pop(spool *s)
{
    if (s->peeked == 0)
        return;
    s->roff += HEADER + s->peeked;
    s->records--;
    s->bytes -= HEADER + s->peeked;
    s->peeked = 0;
    bool writing = s->wfd >= 0 && s->segs[s->nsegs - 1] == s->rseg;
    if (s->records == 0 && !writing && s->nsegs > 0)
        next_segment(s);
}

uint64_t spool_records(const spool *s)
{
    return s->records;
}

uint64_t spool_bytes(const spool *s)
{
    return s->bytes;
}

uint64_t spool_corrupt(const spool *s)
{
    return s->corrupt;
}
