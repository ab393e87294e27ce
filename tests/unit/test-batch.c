/* test-batch.c - unit tests for the writer's batch: flushing by points,
 * bytes and time with an injected clock, the split plan for rejected
 * ranges, and which offsets become committable. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "hs_offtrack.h"

#define TOPIC "ha.events.enriched"

/* Appends a line "m v=<i> <i>\n" for (partition, offset) at now_ms. */
static void add_line(batch *b, int32_t partition, int64_t offset, int64_t now_ms)
{
    char line[64];
    int n = snprintf(line, sizeof line, "m v=%lld %lld\n", (long long)offset,
                     (long long)offset);
    size_t off = b->text.len;
    ck_assert_int_eq(lineproto_buf_append(&b->text, line, (size_t)n), 0);
    char payload[32];
    int pn = snprintf(payload, sizeof payload, "{\"o\":%lld}", (long long)offset);
    ck_assert_int_eq(
        batch_add_encoded(b, off, partition, offset, payload, (size_t)pn, "k", 1, now_ms),
        0);
}

/* Appends the line "m v=1 1\n" at offset of partition 0 with a copy of
 * payload (plen bytes) and key (klen bytes, may be NULL). */
static void add_copy(batch *b, int64_t offset, const void *payload, size_t plen,
                     const void *key, size_t klen)
{
    size_t off = b->text.len;
    ck_assert_int_eq(lineproto_buf_append(&b->text, "m v=1 1\n", 8), 0);
    ck_assert_int_eq(batch_add_encoded(b, off, 0, offset, payload, plen, key, klen, 0),
                     0);
}

START_TEST(test_full_by_points)
{
    batch_limits lim = {3, 1 << 20, 1000};
    batch b;
    batch_init(&b, &lim);
    ck_assert(!batch_full(&b));
    add_line(&b, 0, 1, 0);
    add_line(&b, 0, 2, 0);
    ck_assert(!batch_full(&b));
    add_line(&b, 0, 3, 0);
    ck_assert(batch_full(&b));
    batch_clear(&b);
    ck_assert(!batch_full(&b));
    ck_assert_uint_eq(b.n, 0);
    ck_assert_uint_eq(b.text.len, 0);
    batch_fini(&b);
}
END_TEST

START_TEST(test_full_by_bytes)
{
    /* Each test line is "m v=N N\n": 8 bytes for one-digit offsets. */
    batch_limits lim = {1000, 20, 1000};
    batch b;
    batch_init(&b, &lim);
    /* An empty batch takes any line. */
    ck_assert_int_eq(lineproto_buf_append(&b.text, "m v=12345678901234567890 1\n", 28),
                     0);
    ck_assert(!batch_text_over(&b));
    lineproto_buf_truncate(&b.text, 0);
    add_line(&b, 0, 1, 0);
    add_line(&b, 0, 2, 0);
    ck_assert_uint_eq(b.text.len, 16);
    ck_assert(!batch_full(&b));
    /* A third line of 8 bytes, written and not added: 24 > 20, it goes to
     * the next batch; one of 4 bytes fits. */
    ck_assert_int_eq(lineproto_buf_append(&b.text, "m v=3 3\n", 8), 0);
    ck_assert(batch_text_over(&b));
    lineproto_buf_truncate(&b.text, 16);
    ck_assert_int_eq(lineproto_buf_append(&b.text, "m 3\n", 4), 0);
    ck_assert(!batch_text_over(&b));
    lineproto_buf_truncate(&b.text, 16);
    add_line(&b, 0, 3, 0);
    ck_assert(batch_full(&b));
    batch_fini(&b);
}
END_TEST

START_TEST(test_due_by_time)
{
    batch_limits lim = {1000, 1 << 20, 100};
    batch b;
    batch_init(&b, &lim);
    ck_assert(!batch_due(&b, 5000));
    ck_assert_int_eq(batch_due_in(&b, 5000), -1);
    add_line(&b, 0, 1, 1000); /* the clock of the first point counts */
    add_line(&b, 0, 2, 1090);
    ck_assert(!batch_due(&b, 1099));
    ck_assert_int_eq(batch_due_in(&b, 1040), 60);
    ck_assert(batch_due(&b, 1100));
    ck_assert_int_eq(batch_due_in(&b, 1200), 0);
    batch_clear(&b);
    add_line(&b, 0, 3, 2000);
    ck_assert(!batch_due(&b, 2050));
    batch_fini(&b);
}
END_TEST

START_TEST(test_zero_interval)
{
    batch_limits lim = {1000, 1 << 20, 0};
    batch b;
    batch_init(&b, &lim);
    add_line(&b, 0, 1, 10);
    ck_assert(batch_due(&b, 10));
    batch_fini(&b);
}
END_TEST

START_TEST(test_range_text)
{
    batch_limits lim = {1000, 1 << 20, 100};
    batch b;
    batch_init(&b, &lim);
    for (int i = 0; i < 4; i++)
        add_line(&b, 0, i, 0);
    size_t len;
    const char *t = batch_range_text(&b, (batch_range){1, 3}, &len);
    ck_assert_uint_eq(len, 16);
    ck_assert(memcmp(t, "m v=1 1\nm v=2 2\n", 16) == 0);
    t = batch_range_text(&b, (batch_range){0, 4}, &len);
    ck_assert_uint_eq(len, b.text.len);
    batch_range_text(&b, (batch_range){2, 2}, &len);
    ck_assert_uint_eq(len, 0);
    batch_range_text(&b, (batch_range){0, 9}, &len);
    ck_assert_uint_eq(len, 0);
    /* payload and key are copies */
    ck_assert_uint_eq(b.e[2].payload_len, 7);
    ck_assert(memcmp(b.e[2].payload, "{\"o\":2}", 7) == 0);
    ck_assert(memcmp(batch_key(&b, &b.e[2]), "k", 1) == 0);
    batch_fini(&b);
}
END_TEST

/* Payload and key copies of every size, small ones sharing blocks and
 * large ones past a block's size, stay intact while the batch grows, and
 * after a clear the batch fills again. */
START_TEST(test_payload_copies)
{
    batch_limits lim = {100000, 1 << 30, 100};
    batch b;
    batch_init(&b, &lim);
    char *big = malloc(200000);
    ck_assert_ptr_nonnull(big);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 300; i++) {
            size_t plen = i % 97 == 0 ? 70000 + (size_t)i * 100 : (size_t)(i % 300) + 1;
            memset(big, 'a' + i % 26, plen);
            char key[16];
            int kn = snprintf(key, sizeof key, "k%d", i);
            add_copy(&b, i, big, plen, i % 5 ? key : NULL, i % 5 ? (size_t)kn : 0);
        }
        for (int i = 0; i < 300; i++) {
            const batch_entry *e = &b.e[i];
            size_t plen = i % 97 == 0 ? 70000 + (size_t)i * 100 : (size_t)(i % 300) + 1;
            ck_assert_uint_eq(e->payload_len, plen);
            const unsigned char *p = e->payload;
            ck_assert(p[0] == 'a' + i % 26 && p[plen - 1] == 'a' + i % 26);
            char key[16];
            int kn = snprintf(key, sizeof key, "k%d", i);
            if (i % 5) {
                ck_assert_uint_eq(e->key_len, (size_t)kn);
                ck_assert(memcmp(batch_key(&b, e), key, (size_t)kn) == 0);
            } else {
                ck_assert_ptr_null(batch_key(&b, e));
                ck_assert_uint_eq(e->key_len, 0);
            }
        }
        batch_clear(&b);
        ck_assert_uint_eq(b.n, 0);
    }
    /* Releasing leaves a batch with entries alone, and an empty one usable. */
    add_line(&b, 0, 1, 0);
    batch_release(&b);
    ck_assert_uint_eq(b.n, 1);
    ck_assert(memcmp(b.e[0].payload, "{\"o\":1}", 7) == 0);
    batch_clear(&b);
    batch_release(&b);
    ck_assert_ptr_null(b.text.data);
    ck_assert_ptr_null(b.e);
    ck_assert_uint_eq(b.limits.max_points, 100000);
    add_line(&b, 0, 2, 0);
    ck_assert(memcmp(b.e[0].payload, "{\"o\":2}", 7) == 0);
    batch_clear(&b);
    /* An empty payload is kept as none. */
    ck_assert_int_eq(batch_add_encoded(&b, 0, 0, 1, "", 0, NULL, 0, 0), 0);
    ck_assert_ptr_null(b.e[0].payload);
    ck_assert_uint_eq(b.e[0].payload_len, 0);
    free(big);
    batch_fini(&b);
    batch_fini(&b); /* a finished batch may be finished again */
}
END_TEST

/* Keys of every length from 1 to 70 (each of copy_short's ways), with
 * bytes of their own, stay intact as the keys' buffer grows. */
START_TEST(test_key_lengths)
{
    batch_limits lim = {1000, 1 << 20, 100};
    batch b;
    batch_init(&b, &lim);
    char key[80];
    for (int round = 0; round < 2; round++) {
        for (size_t len = 1; len <= 70; len++) {
            for (size_t i = 0; i < len; i++)
                key[i] = (char)('A' + (len * 7 + i + (size_t)round) % 58);
            add_copy(&b, (int64_t)len, "{}", 2, key, len);
        }
        for (size_t len = 1; len <= 70; len++) {
            const batch_entry *e = &b.e[len - 1];
            const char *k = batch_key(&b, e);
            ck_assert_uint_eq(e->key_len, len);
            for (size_t i = 0; i < len; i++)
                ck_assert_int_eq(k[i], (char)('A' + (len * 7 + i + (size_t)round) % 58));
        }
        ck_assert_uint_eq(b.keys.len, 70 * 71 / 2);
        ck_assert_int_eq(b.keys.data[b.keys.len], '\0');
        batch_clear(&b);
    }
    batch_fini(&b);
}
END_TEST

/* A cleared batch keeps its payload blocks, up to 64 of 64 KB (a larger
 * payload's own block goes), and the next fill takes them before
 * allocating; the copies in reused blocks are intact. */
START_TEST(test_blocks_reused)
{
    batch_limits lim = {100000, 1 << 30, 100};
    batch b;
    batch_init(&b, &lim);
    char *big = malloc(100000);
    ck_assert_ptr_nonnull(big);
    /* 200 payloads of 1,000 bytes take 4 blocks; one of 100,000 its own. */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 200; i++) {
            memset(big, 'a' + (i + round) % 26, 1000);
            add_copy(&b, i, big, 1000, "k", 1);
        }
        memset(big, 'z', 100000);
        add_copy(&b, 200, big, 100000, NULL, 0);
        /* Every fill after the first took the 4 spare blocks. */
        ck_assert_uint_eq(b.nspare, 0);
        for (int i = 0; i < 200; i++) {
            const unsigned char *p = b.e[i].payload;
            ck_assert_uint_eq(b.e[i].payload_len, 1000);
            ck_assert(p[0] == 'a' + (i + round) % 26 && p[999] == p[0]);
            ck_assert(memcmp(batch_key(&b, &b.e[i]), "k", 1) == 0);
        }
        ck_assert(((const unsigned char *)b.e[200].payload)[99999] == 'z');
        batch_clear(&b);
        ck_assert_uint_eq(b.nspare, 4);
    }
    /* 70 payloads of 60,000 bytes, one a block: 64 blocks are kept. */
    for (int i = 0; i < 70; i++) {
        add_copy(&b, i, big, 60000, NULL, 0);
    }
    batch_clear(&b);
    ck_assert_uint_eq(b.nspare, 64);
    batch_release(&b);
    ck_assert_uint_eq(b.nspare, 0);
    ck_assert_ptr_null(b.spare);
    free(big);
    batch_fini(&b);
}
END_TEST

/* batch_swap_lines: the lines and keys go, where they are, to the caller's
 * batch_lines; the batch gets the caller's buffers, empty, fills them, and
 * what went away is untouched. */
START_TEST(test_swap_lines)
{
    batch_limits lim = {1000, 1 << 20, 100};
    batch b;
    batch_init(&b, &lim);
    batch_lines kept;
    lineproto_buf_init(&kept.text);
    lineproto_buf_init(&kept.keys);
    for (int i = 0; i < 3; i++)
        add_line(&b, 0, i, 0);
    const char *text = b.text.data, *keys = b.keys.data;
    size_t key_off = b.e[2].key_off, line_off = b.e[2].line_off;
    batch_swap_lines(&b, &kept);
    ck_assert_ptr_eq(kept.text.data, text);
    ck_assert_ptr_eq(kept.keys.data, keys);
    ck_assert_uint_eq(kept.text.len, 24);
    ck_assert_uint_eq(kept.keys.len, 3);
    ck_assert_uint_eq(b.text.len, 0);
    ck_assert_uint_eq(b.keys.len, 0);
    batch_clear(&b);
    for (int i = 10; i < 20; i++)
        add_line(&b, 0, i, 0);
    ck_assert(memcmp(kept.text.data + line_off, "m v=2 2\n", 8) == 0);
    ck_assert(memcmp(kept.keys.data + key_off, "k", 1) == 0);
    ck_assert(memcmp(b.text.data, "m v=10 10\n", 10) == 0);
    /* Back again: the batch gets its first buffers, emptied. */
    const char *second = b.text.data;
    batch_swap_lines(&b, &kept);
    ck_assert_ptr_eq(b.text.data, text);
    ck_assert_ptr_eq(kept.text.data, second);
    ck_assert_uint_eq(b.text.len, 0);
    batch_clear(&b);
    add_line(&b, 0, 30, 0);
    ck_assert(memcmp(kept.text.data, "m v=10 10\n", 10) == 0);
    lineproto_buf_fini(&kept.text);
    lineproto_buf_fini(&kept.keys);
    batch_fini(&b);
}
END_TEST

/* Drives a plan where the entries listed in bad are rejected whenever they
 * are part of a range; returns the rejected singles in order and counts the
 * writes. */
static size_t run_plan(batch *b, const bool *bad, size_t *rejected, size_t *writes)
{
    size_t nrej = 0;
    *writes = 0;
    ck_assert_int_eq(batch_plan_start(b), 0);
    batch_range r;
    while (batch_plan_peek(b, &r)) {
        (*writes)++;
        bool any_bad = false;
        for (size_t i = r.lo; i < r.hi; i++)
            any_bad |= bad[i];
        if (!any_bad) {
            batch_plan_pop(b);
            continue;
        }
        int sp = batch_plan_split(b);
        ck_assert_int_ge(sp, 0);
        if (sp == 1) {
            ck_assert_uint_eq(r.hi - r.lo, 1);
            rejected[nrej++] = r.lo;
        }
    }
    return nrej;
}

START_TEST(test_split_plan)
{
    batch_limits lim = {1000, 1 << 20, 100};
    batch b;
    batch_init(&b, &lim);
    for (int i = 0; i < 10; i++)
        add_line(&b, 0, i, 0);
    bool bad[10] = {false};
    size_t rejected[10], writes;

    /* all good: one write */
    ck_assert_uint_eq(run_plan(&b, bad, rejected, &writes), 0);
    ck_assert_uint_eq(writes, 1);

    /* one bad point: found by halving, good points all written once more */
    bad[7] = true;
    ck_assert_uint_eq(run_plan(&b, bad, rejected, &writes), 1);
    ck_assert_uint_eq(rejected[0], 7);
    ck_assert_uint_le(writes, 1 + 2 * 4);

    /* several: each found once, in order */
    bad[0] = bad[3] = bad[9] = true;
    size_t n = run_plan(&b, bad, rejected, &writes);
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(rejected[0], 0);
    ck_assert_uint_eq(rejected[1], 3);
    ck_assert_uint_eq(rejected[2], 7);
    ck_assert_uint_eq(rejected[3], 9);

    /* all bad: every point alone */
    for (int i = 0; i < 10; i++)
        bad[i] = true;
    ck_assert_uint_eq(run_plan(&b, bad, rejected, &writes), 10);
    for (size_t i = 0; i < 10; i++)
        ck_assert_uint_eq(rejected[i], i);
    batch_fini(&b);
}
END_TEST

START_TEST(test_split_covers_every_entry_once)
{
    /* Whatever is rejected, the ranges written or rejected partition the
     * batch: every entry ends up in exactly one good range or one single. */
    batch_limits lim = {5000, 1 << 24, 100};
    for (size_t n = 1; n <= 37; n += 6) {
        batch b;
        batch_init(&b, &lim);
        for (size_t i = 0; i < n; i++)
            add_line(&b, 0, (int64_t)i, 0);
        ck_assert_int_eq(batch_plan_start(&b), 0);
        int *seen = calloc(n, sizeof *seen);
        batch_range r;
        size_t step = 0;
        while (batch_plan_peek(&b, &r)) {
            if ((r.lo * 7 + r.hi + step++) % 3 == 0 || r.hi - r.lo == 1) {
                if (r.hi - r.lo == 1 && r.lo % 2 == 0) {
                    ck_assert_int_eq(batch_plan_split(&b), 1);
                } else {
                    batch_plan_pop(&b);
                }
                for (size_t i = r.lo; i < r.hi; i++)
                    seen[i]++;
            } else {
                ck_assert_int_eq(batch_plan_split(&b), 0);
            }
        }
        for (size_t i = 0; i < n; i++)
            ck_assert_int_eq(seen[i], 1);
        free(seen);
        batch_fini(&b);
    }
}
END_TEST

START_TEST(test_split_empty_plan)
{
    batch_limits lim = {10, 1 << 20, 100};
    batch b;
    batch_init(&b, &lim);
    ck_assert_int_eq(batch_plan_start(&b), 0);
    batch_range r;
    ck_assert(!batch_plan_peek(&b, &r));
    ck_assert_int_eq(batch_plan_split(&b), -1);
    batch_fini(&b);
}
END_TEST

typedef struct {
    int32_t partition[1024];
    int64_t next[1024];
    size_t n;
} commits;

static void record_commit(void *ud, int32_t partition, int64_t commit_next)
{
    commits *c = ud;
    ck_assert_uint_lt(c->n, 1024);
    c->partition[c->n] = partition;
    c->next[c->n] = commit_next;
    c->n++;
}

START_TEST(test_offsets)
{
    batch_limits lim = {100, 1 << 20, 100};
    batch b;
    batch_init(&b, &lim);
    hs_offtrack *t = hs_offtrack_new();
    /* partition 0: offsets 10..13, partition 1: 5..6, interleaved */
    int32_t parts[] = {0, 1, 0, 0, 1, 0};
    int64_t offs[] = {10, 5, 11, 12, 6, 13};
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(hs_offtrack_add(t, TOPIC, parts[i], offs[i]), 0);
        add_line(&b, parts[i], offs[i], 0);
    }
    commits c = {.n = 0};
    /* the second half first: nothing of partition 0 is committable yet
     * (10 and 11 are still in flight), partition 1 neither (5 is). */
    batch_mark_done(&b, (batch_range){3, 6}, t, TOPIC, record_commit, &c);
    ck_assert_uint_eq(c.n, 0);
    /* then the first half: both partitions advance to past their last,
     * one call each with the furthest point */
    batch_mark_done(&b, (batch_range){0, 3}, t, TOPIC, record_commit, &c);
    ck_assert_uint_eq(c.n, 2);
    for (size_t i = 0; i < c.n; i++) {
        if (c.partition[i] == 0)
            ck_assert_int_eq(c.next[i], 14);
        else
            ck_assert_int_eq(c.next[i], 7);
    }
    ck_assert_uint_eq(hs_offtrack_pending(t), 0);
    hs_offtrack_free(t);
    batch_fini(&b);
}
END_TEST

START_TEST(test_offsets_gap_from_dlq)
{
    /* A rejected point's offset waits for its DLQ delivery: the commit
     * point stops right before it until it is done too. */
    batch_limits lim = {100, 1 << 20, 100};
    batch b;
    batch_init(&b, &lim);
    hs_offtrack *t = hs_offtrack_new();
    for (int64_t o = 0; o < 4; o++) {
        ck_assert_int_eq(hs_offtrack_add(t, TOPIC, 2, o), 0);
        add_line(&b, 2, o, 0);
    }
    commits c = {.n = 0};
    batch_mark_done(&b, (batch_range){0, 1}, t, TOPIC, record_commit, &c);
    batch_mark_done(&b, (batch_range){2, 4}, t, TOPIC, record_commit, &c);
    ck_assert_uint_eq(c.n, 1);
    ck_assert_int_eq(c.next[0], 1); /* offset 1 (to the DLQ) still in flight */
    int64_t next;
    ck_assert(hs_offtrack_done(t, TOPIC, 2, 1, &next));
    ck_assert_int_eq(next, 4);
    hs_offtrack_free(t);
    batch_fini(&b);
}
END_TEST

/* 100 partitions whose numbers collide in batch_mark_done's index (p * 128
 * + p % 3), each with offsets of its own (from 100 * p), their points
 * interleaved and in runs: the first 64 met are reported once each, at the
 * end, with their furthest point; the others, past the table, at once on
 * every advance; each partition's last report is its own furthest point. */
START_TEST(test_offsets_many_partitions)
{
    enum { P = 100, PER = 3 };
    batch_limits lim = {100000, 1 << 24, 100};
    batch b;
    batch_init(&b, &lim);
    hs_offtrack *t = hs_offtrack_new();
    /* Round r adds the next offset of every partition; in round 0 every
     * fifth partition adds two in a row (a run), so it has none left for
     * the last round. */
    int64_t next_off[P];
    for (int p = 0; p < P; p++)
        next_off[p] = 100 * p;
    for (int round = 0; round < PER; round++)
        for (int32_t p = 0; p < P; p++) {
            int run = round == 0 && p % 5 == 0 ? 2 : 1;
            for (int k = 0; k < run && next_off[p] < 100 * p + PER; k++) {
                int32_t part = p * 128 + p % 3;
                ck_assert_int_eq(hs_offtrack_add(t, TOPIC, part, next_off[p]), 0);
                add_line(&b, part, next_off[p]++, 0);
            }
        }
    ck_assert_uint_eq(b.n, P * PER);
    commits *c = calloc(1, sizeof *c);
    ck_assert_ptr_nonnull(c);
    batch_mark_done(&b, (batch_range){0, b.n}, t, TOPIC, record_commit, c);
    int64_t last[P];
    int reports[P] = {0};
    for (size_t i = 0; i < c->n; i++) {
        int32_t p = c->partition[i] / 128;
        ck_assert_int_eq(c->partition[i], p * 128 + p % 3);
        last[p] = c->next[i];
        reports[p]++;
    }
    /* The first 64 partitions met are partitions 0..63 (first round). */
    for (int p = 0; p < P; p++) {
        ck_assert_int_gt(reports[p], 0);
        ck_assert_int_eq(last[p], 100 * p + PER);
        ck_assert_int_eq(reports[p], p < 64 ? 1 : PER);
    }
    ck_assert_uint_eq(hs_offtrack_pending(t), 0);
    free(c);
    hs_offtrack_free(t);
    batch_fini(&b);
}
END_TEST

static Suite *batch_suite(void)
{
    Suite *s = suite_create("batch");
    TCase *tc = tcase_create("limits");
    tcase_add_test(tc, test_full_by_points);
    tcase_add_test(tc, test_full_by_bytes);
    tcase_add_test(tc, test_due_by_time);
    tcase_add_test(tc, test_zero_interval);
    tcase_add_test(tc, test_range_text);
    tcase_add_test(tc, test_payload_copies);
    tcase_add_test(tc, test_key_lengths);
    tcase_add_test(tc, test_blocks_reused);
    tcase_add_test(tc, test_swap_lines);
    suite_add_tcase(s, tc);
    TCase *ts = tcase_create("split");
    tcase_add_test(ts, test_split_plan);
    tcase_add_test(ts, test_split_covers_every_entry_once);
    tcase_add_test(ts, test_split_empty_plan);
    suite_add_tcase(s, ts);
    TCase *to = tcase_create("offsets");
    tcase_add_test(to, test_offsets);
    tcase_add_test(to, test_offsets_gap_from_dlq);
    tcase_add_test(to, test_offsets_many_partitions);
    suite_add_tcase(s, to);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(batch_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
