/* test_fs.c - fsutil: mkdir -p, atomic replace (mode, content, no temp
 * left behind, failure leaves the old file), bounded reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsutil.h"

static char dir[64];

static int rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb, (void)type, (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/kt-fs-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int entries_in(const char *path)
{
    DIR *d = opendir(path);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void test_mkdir_p(void **state)
{
    (void)state;
    char p[128];
    kt_err err;
    struct stat sb;
    snprintf(p, sizeof p, "%s/a/b/c", dir);
    assert_int_equal(fs_mkdir_p(p, 0700, &err), KT_OK);
    assert_int_equal(stat(p, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(fs_mkdir_p(p, 0700, &err), KT_OK); /* idempotent */
    snprintf(p, sizeof p, "%s/x/y/file.db", dir);
    assert_int_equal(fs_mkdir_parent(p, 0700, &err), KT_OK);
    snprintf(p, sizeof p, "%s/x/y", dir);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(fs_mkdir_parent("relative.db", 0700, &err), KT_OK);
    snprintf(p, sizeof p, "%s/file", dir);
    FILE *f = fopen(p, "w");
    fclose(f);
    snprintf(p, sizeof p, "%s/file/sub", dir);
    assert_int_equal(fs_mkdir_p(p, 0700, &err), KT_ERR_IO);
    assert_non_null(strstr(err.msg, "file"));
    assert_int_equal(fs_mkdir_p("", 0700, &err), KT_ERR_INVALID);
}

static void test_write_atomic_and_read(void **state)
{
    (void)state;
    char p[128];
    kt_err err;
    struct stat sb;
    snprintf(p, sizeof p, "%s/data.txt", dir);
    assert_int_equal(fs_write_atomic(p, "first", 5, 0600, &err), KT_OK);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(fs_write_atomic(p, "second\0x", 8, 0640, &err), KT_OK);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640);
    assert_int_equal(entries_in(dir), 1); /* no temp file left */
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(fs_read_file(p, 100, &text, &len, &err), KT_OK);
    assert_int_equal(len, 8);
    assert_memory_equal(text, "second\0x\0", 9);
    free(text);
    text = (char *)"untouched";
    assert_int_equal(fs_read_file(p, 7, &text, &len, &err), KT_ERR_TOO_LARGE);
    assert_string_equal(text, "untouched");
    snprintf(p, sizeof p, "%s/missing", dir);
    assert_int_equal(fs_read_file(p, 100, &text, &len, &err), KT_ERR_NOT_FOUND);
    assert_int_equal(fs_read_file(dir, 100, &text, &len, &err), KT_ERR_IO);
    snprintf(p, sizeof p, "%s/no/such/dir/file", dir);
    assert_int_equal(fs_write_atomic(p, "x", 1, 0600, &err), KT_ERR_IO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mkdir_p, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_atomic_and_read, setup, teardown),
    };
    return cmocka_run_group_tests_name("core_fs", tests, NULL, NULL);
}
