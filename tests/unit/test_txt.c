/* Unit tests for the TXT template grammar (txt.h): the lexer, the
 * renderer, the builder that writes templates and the zone template's
 * {placeholders}, including where each cuts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "txt.h"

static void render_is(const char *tpl, const char *addr, size_t cap, const char *want)
{
    char buf[512];
    size_t len = 99;
    assert_true(cap <= sizeof buf);
    txt_template_render(tpl, addr, buf, cap, &len);
    assert_string_equal(buf, want);
    assert_int_equal(len, strlen(want));
}

static void test_lexer(void **state)
{
    (void)state;
    const char *t = "a$$b$1$=$";
    struct txt_token tok;
    static const enum txt_token_kind want[] = {TXT_TOKEN_TEXT, TXT_TOKEN_DOLLAR, TXT_TOKEN_TEXT,
                                               TXT_TOKEN_VAR,  TXT_TOKEN_ADDR,   TXT_TOKEN_TEXT,
                                               TXT_TOKEN_ADDR, TXT_TOKEN_END};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_int_equal(txt_template_next(&t, 0, &tok), want[i]);
    assert_int_equal(txt_template_next(&t, 0, &tok), TXT_TOKEN_END); /* stays at the end */

    t = "$7x$=";
    assert_int_equal(txt_template_next(&t, TXT_RBLDNSD_DATA, &tok), TXT_TOKEN_VAR);
    assert_int_equal(tok.var, 7);
    assert_int_equal(tok.len, 2);
    assert_memory_equal(tok.text, "$7", 2);
    assert_int_equal(txt_template_next(&t, TXT_RBLDNSD_DATA, &tok), TXT_TOKEN_TEXT);
    assert_int_equal(tok.len, 1);
    assert_int_equal(txt_template_next(&t, TXT_RBLDNSD_DATA, &tok), TXT_TOKEN_BASE);
    assert_int_equal(txt_template_next(&t, TXT_RBLDNSD_DATA, &tok), TXT_TOKEN_END);
}

static void test_render(void **state)
{
    (void)state;
    render_is("", "192.0.2.1", 64, "");
    render_is("plain text", "192.0.2.1", 64, "plain text");
    render_is("$ listed", "192.0.2.1", 64, "192.0.2.1 listed");
    render_is("see $/info", "192.0.2.1", 64, "see 192.0.2.1/info");
    render_is("at the end $", "192.0.2.1", 64, "at the end 192.0.2.1");
    render_is("costs $$5", "192.0.2.1", 64, "costs $5");
    render_is("$$$", "192.0.2.1", 64, "$192.0.2.1");
    /* an undefined variable stays literal, as rbldnsd leaves it */
    render_is("var $3 here", "192.0.2.1", 64, "var $3 here");
    /* "$=" is only the importer's: here it is the address and an "=" */
    render_is("$=", "192.0.2.1", 64, "192.0.2.1=");
}

static void test_render_cuts(void **state)
{
    (void)state;
    render_is("abcdef", "x", 4, "abc");
    render_is("ab$", "192.0.2.1", 6, "ab192");
    render_is("$$$$", "x", 2, "$");
    char buf[1] = {'z'};
    size_t len = 9;
    txt_template_render("abc", "x", buf, 1, &len);
    assert_int_equal(buf[0], '\0');
    assert_int_equal(len, 0);
}

static void test_builder(void **state)
{
    (void)state;
    char buf[32];
    struct txt_builder b;
    txt_builder_init(&b, buf, sizeof buf);
    txt_builder_text(&b, "cost $5 for ", 12);
    txt_builder_addr(&b);
    txt_builder_text(&b, " now", 4);
    assert_string_equal(buf, "cost $$5 for $ now");
    assert_false(b.ambiguous);
    assert_false(b.cut);
    /* rendering what was built gives back the text */
    char out[64];
    size_t len;
    txt_template_render(buf, "192.0.2.1", out, sizeof out, &len);
    assert_string_equal(out, "cost $5 for 192.0.2.1 now");

    /* a digit or "$" right after the address cannot be written */
    txt_builder_init(&b, buf, sizeof buf);
    txt_builder_addr(&b);
    txt_builder_text(&b, "1", 1);
    assert_true(b.ambiguous);
    txt_builder_init(&b, buf, sizeof buf);
    txt_builder_addr(&b);
    txt_builder_text(&b, "$", 1);
    assert_true(b.ambiguous);
    assert_string_equal(buf, "$$$");
}

static void test_builder_cuts(void **state)
{
    (void)state;
    char buf[6];
    struct txt_builder b;
    txt_builder_init(&b, buf, sizeof buf);
    txt_builder_text(&b, "abcd", 4);
    txt_builder_text(&b, "$", 1); /* "$$" does not fit: cut here, whole */
    assert_true(b.cut);
    txt_builder_text(&b, "e", 1); /* nothing after a cut */
    assert_string_equal(buf, "abcd");
    assert_int_equal(b.len, 4);
}

static void test_builder_rendered(void **state)
{
    (void)state;
    char buf[64];
    struct txt_builder b;
    const char raw[] = "\x01 costs $1, see \x01";
    txt_builder_init(&b, buf, sizeof buf);
    txt_builder_rendered(&b, raw, sizeof raw - 1, '\x01');
    assert_string_equal(buf, "$ costs $$1, see $");
    txt_builder_init(&b, buf, sizeof buf);
    txt_builder_rendered(&b, "", 0, '\x01');
    assert_string_equal(buf, "");
}

static void fields_is(const char *tpl, size_t cap, const char *want)
{
    const struct txt_fields f = {
        .ip = "192.0.2.1", .reason = "spam", .zone = "bl.example", .code = 0x7f00000a};
    char buf[256];
    size_t len = 99;
    txt_fields_render(tpl, &f, buf, cap, &len);
    assert_string_equal(buf, want);
    assert_int_equal(len, strlen(want));
}

static void test_fields(void **state)
{
    (void)state;
    fields_is("{ip} is listed in {zone}: {reason}", 256, "192.0.2.1 is listed in bl.example: spam");
    fields_is("code {code}", 256, "code 127.0.0.10");
    fields_is("{code}/{code}", 256, "127.0.0.10/127.0.0.10");
    /* unknown and unclosed placeholders, and "$", are text here */
    fields_is("{nope} {ip", 256, "{nope} {ip");
    fields_is("{{ip}}", 256, "{192.0.2.1}");
    fields_is("$ {ip}", 256, "$ 192.0.2.1");
    fields_is("{ip}{ip}", 12, "192.0.2.119");
    fields_is("", 256, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lexer),        cmocka_unit_test(test_render),
        cmocka_unit_test(test_render_cuts),  cmocka_unit_test(test_builder),
        cmocka_unit_test(test_builder_cuts), cmocka_unit_test(test_builder_rendered),
        cmocka_unit_test(test_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
