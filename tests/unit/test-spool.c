/* test-spool.c - spool: order, bounds, restart, torn tails, corruption. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"

static char dir[256];

static void make_dir(void)
{
    snprintf(dir, sizeof(dir), "/tmp/hs-test-spool-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *de;
    char path[512];
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static int count_segments(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += strncmp(de->d_name, "seg-", 4) == 0;
    closedir(d);
    return n;
}

static void append_n(spool *s, int from, int to)
{
    char key[32], payload[64], err[128];
    for (int i = from; i < to; i++) {
        int kl = snprintf(key, sizeof(key), "sensor.e%d", i % 7);
        int pl = snprintf(payload, sizeof(payload), "{\"n\":%d}", i);
        ck_assert_int_eq(spool_append(s, i % 2, key, (size_t)kl, payload, (size_t)pl, err,
                                      sizeof(err)),
                         0);
    }
}

/* Pops n records, checking they are from..from+n-1 in order. */
static void expect_n(spool *s, int from, int n)
{
    for (int i = from; i < from + n; i++) {
        int tag;
        const void *k, *p;
        size_t kl, pl;
        ck_assert_int_eq(spool_peek(s, &tag, &k, &kl, &p, &pl), 0);
        char want[64];
        int wl = snprintf(want, sizeof(want), "{\"n\":%d}", i);
        ck_assert_msg(pl == (size_t)wl && memcmp(p, want, pl) == 0, "record %d: %.*s", i,
                      (int)pl, (const char *)p);
        ck_assert_int_eq(tag, i % 2);
        char wkey[32];
        int wkl = snprintf(wkey, sizeof(wkey), "sensor.e%d", i % 7);
        ck_assert(kl == (size_t)wkl && memcmp(k, wkey, kl) == 0);
        spool_pop(s);
    }
}

START_TEST(test_order_and_segments)
{
    make_dir();
    char err[128];
    spool *s = spool_open(dir, 10u * 1024 * 1024, 4096, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    int tag;
    const void *k, *p;
    size_t kl, pl;
    ck_assert_int_eq(spool_peek(s, &tag, &k, &kl, &p, &pl), 1);
    append_n(s, 0, 1000);
    ck_assert_uint_eq(spool_records(s), 1000);
    ck_assert_int_gt(count_segments(), 5);
    /* Interleaved reading and writing. */
    expect_n(s, 0, 400);
    append_n(s, 1000, 1200);
    expect_n(s, 400, 800);
    ck_assert_uint_eq(spool_records(s), 0);
    ck_assert_uint_eq(spool_bytes(s), 0);
    ck_assert_int_eq(spool_peek(s, &tag, &k, &kl, &p, &pl), 1);
    ck_assert_int_le(count_segments(), 1);
    /* A record without key. */
    ck_assert_int_eq(spool_append(s, 1, NULL, 0, "x", 1, err, sizeof(err)), 0);
    ck_assert_int_eq(spool_peek(s, &tag, &k, &kl, &p, &pl), 0);
    ck_assert_ptr_null(k);
    ck_assert_uint_eq(pl, 1);
    spool_pop(s);
    spool_close(s);
    remove_dir();
}
END_TEST

START_TEST(test_survives_restart)
{
    make_dir();
    char err[128];
    spool *s = spool_open(dir, 10u * 1024 * 1024, 4096, err, sizeof(err));
    append_n(s, 0, 500);
    expect_n(s, 0, 123);
    ck_assert_int_eq(spool_sync(s, err, sizeof(err)), 0);
    spool_close(s);

    s = spool_open(dir, 10u * 1024 * 1024, 4096, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_uint_eq(spool_records(s), 377);
    append_n(s, 500, 600);
    expect_n(s, 123, 477);
    ck_assert_uint_eq(spool_records(s), 0);
    spool_close(s);
    remove_dir();
}
END_TEST

START_TEST(test_full)
{
    make_dir();
    char err[128];
    /* Each record: 8 header + 4 fixed + 10 key + 9..10 payload. */
    spool *s = spool_open(dir, 300, 4096, err, sizeof(err));
    int kept = 0;
    for (int i = 0; i < 100; i++) {
        char payload[64];
        int pl = snprintf(payload, sizeof(payload), "{\"n\":%d}", i);
        int rc =
            spool_append(s, 0, "sensor.e0", 9, payload, (size_t)pl, err, sizeof(err));
        if (rc != 0) {
            ck_assert_int_eq(rc, -1);
            break;
        }
        kept++;
    }
    ck_assert_int_gt(kept, 5);
    ck_assert_int_lt(kept, 20);
    ck_assert_uint_le(spool_bytes(s), 300);
    spool_close(s);
    remove_dir();
}
END_TEST

START_TEST(test_torn_tail_is_cut)
{
    make_dir();
    char err[128];
    spool *s = spool_open(dir, 1u << 20, 1u << 20, err, sizeof(err));
    append_n(s, 0, 10);
    spool_close(s);
    /* Simulate a crash in the middle of the 11th record. */
    char path[512];
    snprintf(path, sizeof(path), "%s/seg-%016d.log", dir, 1);
    int fd = open(path, O_WRONLY | O_APPEND);
    ck_assert_int_ge(fd, 0);
    const unsigned char torn[] = {40, 0, 0, 0, 1, 2, 3, 4, 0, 0, 5};
    ck_assert_int_eq(write(fd, torn, sizeof(torn)), (ssize_t)sizeof(torn));
    close(fd);
    s = spool_open(dir, 1u << 20, 1u << 20, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_uint_eq(spool_records(s), 10);
    append_n(s, 10, 12);
    expect_n(s, 0, 12);
    spool_close(s);
    remove_dir();
}
END_TEST

START_TEST(test_corrupt_record_is_counted)
{
    make_dir();
    char err[128];
    spool *s = spool_open(dir, 1u << 20, 200, err, sizeof(err));
    append_n(s, 0, 30); /* several segments of a few records */
    spool_close(s);
    /* Flip a byte in the body of the first record of segment 1. */
    char path[512];
    snprintf(path, sizeof(path), "%s/seg-%016d.log", dir, 1);
    int fd = open(path, O_RDWR);
    unsigned char b;
    ck_assert_int_eq(pread(fd, &b, 1, 14), 1);
    b ^= 0xff;
    ck_assert_int_eq(pwrite(fd, &b, 1, 14), 1);
    close(fd);
    s = spool_open(dir, 1u << 20, 200, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    int tag;
    const void *k, *p;
    size_t kl, pl;
    ck_assert_int_eq(spool_peek(s, &tag, &k, &kl, &p, &pl), 0);
    /* Segment 1 is skipped as a whole; reading resumes with segment 2. */
    ck_assert_uint_ge(spool_corrupt(s), 1);
    ck_assert(memcmp(p, "{\"n\":0}", 7) != 0);
    /* The counts agree with what can still be read. */
    uint64_t left = spool_records(s);
    uint64_t read = 0;
    while (spool_peek(s, &tag, &k, &kl, &p, &pl) == 0) {
        spool_pop(s);
        read++;
    }
    ck_assert_uint_eq(read, left);
    ck_assert_uint_gt(read, 10);
    ck_assert_uint_lt(read, 30);
    ck_assert_uint_eq(spool_records(s), 0);
    spool_close(s);
    remove_dir();
}
END_TEST

START_TEST(test_unwritable_dir)
{
    char err[128] = "";
    ck_assert_ptr_null(spool_open("/proc/hs-no-such/spool", 1000, 100, err, sizeof(err)));
    ck_assert(err[0] != '\0');
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("spool");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_order_and_segments);
    tcase_add_test(tc, test_survives_restart);
    tcase_add_test(tc, test_full);
    tcase_add_test(tc, test_torn_tail_is_cut);
    tcase_add_test(tc, test_corrupt_record_is_counted);
    tcase_add_test(tc, test_unwritable_dir);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
