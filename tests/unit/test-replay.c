/* test-replay.c - unit tests for --replay-dlq's record reader: which DLQ
 * records are the writer's, which can be replayed (not those whose payload
 * was truncated), and what their original payload was. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "hs_kafka.h"
#include "replay.h"

START_TEST(test_roundtrip_text)
{
    const char *orig = "{\"entity_id\":\"sensor.t\",\"new_state\":{\"state\":\"1\"}}";
    char *rec =
        hs_kafka_dlq_record("writer", "InfluxDB rejected the point", orig, strlen(orig));
    ck_assert_ptr_nonnull(rec);
    char *p = NULL;
    size_t n = 0;
    ck_assert_int_eq(replay_extract(rec, strlen(rec), "writer", &p, &n), 0);
    ck_assert_uint_eq(n, strlen(orig));
    ck_assert(memcmp(p, orig, n) == 0);
    free(p);
    free(rec);
}
END_TEST

START_TEST(test_roundtrip_binary)
{
    /* invalid UTF-8 travels as payload_base64 and comes back byte for byte */
    const char orig[] = "{\"x\":\"\xff\xfe\"}\x01";
    size_t olen = sizeof orig - 1;
    char *rec = hs_kafka_dlq_record("writer", "invalid JSON", orig, olen);
    ck_assert_ptr_nonnull(rec);
    ck_assert_ptr_nonnull(strstr(rec, "payload_base64"));
    char *p = NULL;
    size_t n = 0;
    ck_assert_int_eq(replay_extract(rec, strlen(rec), "writer", &p, &n), 0);
    ck_assert_uint_eq(n, olen);
    ck_assert(memcmp(p, orig, n) == 0);
    free(p);
    free(rec);
}
END_TEST

START_TEST(test_other_stage)
{
    const char *rec =
        "{\"stage\":\"enricher\",\"error\":\"x\",\"at\":\"t\",\"payload\":\"{}\"}";
    char *p = NULL;
    size_t n = 0;
    ck_assert_int_eq(replay_extract(rec, strlen(rec), "writer", &p, &n), 1);
    ck_assert_ptr_null(p);
}
END_TEST

START_TEST(test_not_a_record)
{
    static const char *const bad[] = {
        "",
        "not json",
        "[]",
        "{\"error\":\"x\"}",
        "{\"stage\":\"writer\",\"error\":\"no payload\"}",
        "{\"stage\":\"writer\",\"payload_base64\":\"!!!\"}",
        "{\"stage\":\"writer\",\"payload_base64\":\"QQ=A\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *p = NULL;
        size_t n = 0;
        ck_assert_msg(replay_extract(bad[i], strlen(bad[i]), "writer", &p, &n) == -1,
                      "%s", bad[i]);
        ck_assert_ptr_null(p);
    }
}
END_TEST

START_TEST(test_base64_padding)
{
    static const struct {
        const char *b64;
        const char *plain;
    } cases[] = {
        {"", ""}, {"QQ==", "A"}, {"QUI=", "AB"}, {"QUJD", "ABC"}, {"QUJDRA", "ABCD"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char rec[128];
        snprintf(rec, sizeof rec, "{\"stage\":\"writer\",\"payload_base64\":\"%s\"}",
                 cases[i].b64);
        char *p = NULL;
        size_t n = 99;
        ck_assert_int_eq(replay_extract(rec, strlen(rec), "writer", &p, &n), 0);
        ck_assert_uint_eq(n, strlen(cases[i].plain));
        ck_assert(memcmp(p, cases[i].plain, n) == 0);
        free(p);
    }
}
END_TEST

/* A record hs_kafka_dlq_record_max had to cut holds only the first part of
 * its payload: replaying it would put a broken message on the topic. */
START_TEST(test_truncated_skipped)
{
    size_t big = 8000;
    char *orig = malloc(big + 1);
    ck_assert_ptr_nonnull(orig);
    memset(orig, 'a', big);
    orig[big] = '\0';
    char bin[600];
    memset(bin, 0xff, sizeof bin); /* invalid UTF-8: cut as payload_base64 */
    const struct {
        const char *payload;
        size_t len;
    } cases[] = {{orig, big}, {bin, sizeof bin}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *rec = hs_kafka_dlq_record_max("writer", "InfluxDB rejected the point",
                                            cases[i].payload, cases[i].len, 500);
        ck_assert_ptr_nonnull(rec);
        ck_assert_ptr_nonnull(strstr(rec, "\"payload_truncated\":true"));
        char *p = NULL;
        size_t n = 0;
        ck_assert_int_eq(replay_extract(rec, strlen(rec), "writer", &p, &n), 2);
        ck_assert_ptr_null(p);
        /* Another stage's truncated record is still just another stage's. */
        ck_assert_int_eq(replay_extract(rec, strlen(rec), "enricher", &p, &n), 1);
        ck_assert_ptr_null(p);
        free(rec);
    }
    /* A record that fits is whole, and a false flag changes nothing. */
    char *rec = hs_kafka_dlq_record_max("writer", "x", orig, 100, 500);
    ck_assert_ptr_nonnull(rec);
    ck_assert_ptr_null(strstr(rec, "payload_truncated"));
    char *p = NULL;
    size_t n = 0;
    ck_assert_int_eq(replay_extract(rec, strlen(rec), "writer", &p, &n), 0);
    ck_assert_uint_eq(n, 100);
    free(p);
    free(rec);
    const char *flag_false =
        "{\"stage\":\"writer\",\"payload\":\"{}\",\"payload_truncated\":false}";
    p = NULL;
    ck_assert_int_eq(replay_extract(flag_false, strlen(flag_false), "writer", &p, &n), 0);
    ck_assert_uint_eq(n, 2);
    free(p);
    free(orig);
}
END_TEST

static Suite *replay_suite(void)
{
    Suite *s = suite_create("replay");
    TCase *tc = tcase_create("replay");
    tcase_add_test(tc, test_roundtrip_text);
    tcase_add_test(tc, test_roundtrip_binary);
    tcase_add_test(tc, test_other_stage);
    tcase_add_test(tc, test_not_a_record);
    tcase_add_test(tc, test_base64_padding);
    tcase_add_test(tc, test_truncated_skipped);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(replay_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
