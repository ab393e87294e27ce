/* latency.c - percentiles of the last N write durations, for /stats. */
#include "latency.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct latency {
    pthread_mutex_t lock;
    double *ring;
    size_t window;
    size_t next;
    size_t count;
    uint64_t adds; /* samples added so far */
    /* The last summary and the number of adds it covered, so a summary of
     * an unchanged window (frequent /stats polls between writes) costs no
     * copy and no selection. Guarded by lock too. */
    bool cached;
    uint64_t cached_adds;
    size_t cached_n;
    double cached_p50, cached_p90, cached_p99;
};

latency *latency_new(size_t window)
{
    if (window == 0)
        window = 1;
    latency *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    l->ring = calloc(window, sizeof *l->ring);
    if (l->ring == NULL) {
        free(l);
        return NULL;
    }
    l->window = window;
    pthread_mutex_init(&l->lock, NULL);
    return l;
}

void latency_free(latency *l)
{
    if (l == NULL)
        return;
    pthread_mutex_destroy(&l->lock);
    free(l->ring);
    free(l);
}

void latency_add(latency *l, double ms)
{
    pthread_mutex_lock(&l->lock);
    l->ring[l->next] = ms;
    l->next = (l->next + 1) % l->window;
    if (l->count < l->window)
        l->count++;
    l->adds++;
    pthread_mutex_unlock(&l->lock);
}

/* The index (0-based) of the rank-p value among n, nearest-rank method. */
static size_t rank_index(size_t n, double p)
{
    if (p <= 0)
        return 0;
    size_t r = (size_t)ceil(p / 100.0 * (double)n);
    if (r < 1)
        r = 1;
    if (r > n)
        r = n;
    return r - 1;
}

/* Reorders a[0..n) so that a[k] holds the value a sorted copy would hold
 * there, nothing before it is larger and nothing after it smaller (Hoare's
 * selection, expected linear time). Returns a[k]. n > k. */
static double select_kth(double *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        double x = a[lo], y = a[lo + (hi - lo) / 2], z = a[hi];
        double pivot =
            x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        size_t i = lo, j = hi;
        for (;;) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i >= j)
                break;
            double t = a[i];
            a[i] = a[j];
            a[j] = t;
            i++;
            j--;
        }
        /* a[lo..j] <= pivot <= a[j+1..hi] */
        if (k <= j)
            hi = j;
        else
            lo = j + 1;
    }
    return a[k];
}

/* Copies the window into a new array; NULL when empty or OOM. */
static double *window_copy(latency *l, size_t *n)
{
    pthread_mutex_lock(&l->lock);
    *n = l->count;
    double *c = *n ? malloc(*n * sizeof *c) : NULL;
    if (c != NULL)
        memcpy(c, l->ring,
               *n * sizeof *c); /* the first count slots are the filled ones */
    pthread_mutex_unlock(&l->lock);
    if (c == NULL)
        *n = 0;
    return c;
}

double latency_percentile(latency *l, double p, size_t *count)
{
    size_t n;
    double *s = window_copy(l, &n);
    double v = n ? select_kth(s, n, rank_index(n, p)) : 0;
    free(s);
    if (count != NULL)
        *count = n;
    return v;
}

size_t latency_summary(latency *l, double *p50, double *p90, double *p99)
{
    pthread_mutex_lock(&l->lock);
    bool hit = l->cached && l->cached_adds == l->adds;
    uint64_t adds = l->adds;
    if (hit) {
        *p50 = l->cached_p50;
        *p90 = l->cached_p90;
        *p99 = l->cached_p99;
    }
    size_t cn = l->cached_n;
    pthread_mutex_unlock(&l->lock);
    if (hit)
        return cn;
    size_t n;
    double *s = window_copy(l, &n);
    *p50 = *p90 = *p99 = 0;
    if (n > 0) {
        /* Largest rank first: each smaller one then lies in the prefix
         * before it. */
        size_t k99 = rank_index(n, 99), k90 = rank_index(n, 90), k50 = rank_index(n, 50);
        *p99 = select_kth(s, n, k99);
        *p90 = select_kth(s, k99 + 1, k90);
        *p50 = select_kth(s, k90 + 1, k50);
    }
    bool computed = s != NULL || adds == 0; /* not when out of memory */
    free(s);
    if (computed) {
        /* Kept for the adds counted before the copy; a sample added since
         * makes the next summary compute afresh. */
        pthread_mutex_lock(&l->lock);
        l->cached = true;
        l->cached_adds = adds;
        l->cached_n = n;
        l->cached_p50 = *p50;
        l->cached_p90 = *p90;
        l->cached_p99 = *p99;
        pthread_mutex_unlock(&l->lock);
    }
    return n;
}
