/* The apology letter (Mẫu 04, "Phiếu xin lỗi và hẹn lại ngày trả kết quả")
 * as an A4 PDF, laid out as Vietnamese administrative documents are
 * (Decree 30/2020/NĐ-CP): the issuing authority and the document number on
 * the left, the national motto with place and date on the right, the
 * title, the addressee, the paragraphs justified, "Nơi nhận" on the left
 * and the signer's block on the right. pango shapes the Vietnamese text
 * (stacked diacritics such as "ỗ", "ặ"), cairo writes the PDF with the font
 * embedded; Noto Serif (Debian's fonts-noto-core) stands in for the
 * prescribed Times New Roman. */
#include "letters.h"

#include <cairo-pdf.h>
#include <stdarg.h>
#include <pango/pangocairo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/jsonutil.h"

#define PT_PER_MM (72.0 / 25.4)
#define PAGE_W (210 * PT_PER_MM)
#define PAGE_H (297 * PT_PER_MM)
#define MARGIN_TOP (20 * PT_PER_MM)
#define MARGIN_BOTTOM (20 * PT_PER_MM)
#define MARGIN_LEFT (30 * PT_PER_MM)
#define MARGIN_RIGHT (15 * PT_PER_MM)
#define TEXT_W (PAGE_W - MARGIN_LEFT - MARGIN_RIGHT)
#define FONT "Noto Serif"

struct page {
    cairo_t *cr;
    double y; /* where the next block starts */
};

/* A layout of markup in width points, font size pt, aligned, optionally
 * justified with a first-line indent. */
static PangoLayout *layout(cairo_t *cr, const char *markup, double width, double pt,
                           PangoAlignment align, int justify, double indent)
{
    PangoLayout *l = pango_cairo_create_layout(cr);
    PangoFontDescription *font = pango_font_description_from_string(FONT);
    pango_font_description_set_absolute_size(font, pt * PANGO_SCALE);
    pango_layout_set_font_description(l, font);
    pango_font_description_free(font);
    pango_layout_set_width(l, (int)(width * PANGO_SCALE));
    pango_layout_set_wrap(l, PANGO_WRAP_WORD);
    pango_layout_set_alignment(l, align);
    pango_layout_set_justify(l, justify);
    pango_layout_set_indent(l, (int)(indent * PANGO_SCALE));
    pango_layout_set_markup(l, markup, -1);
    return l;
}

static double height_of(PangoLayout *l)
{
    int w, h;
    pango_layout_get_size(l, &w, &h);
    (void)w;
    return (double)h / PANGO_SCALE;
}

/* Shows a block at x on the page's line and returns its height; a block
 * that does not fit starts a new page. */
static double show(struct page *pg, double x, const char *markup, double width, double pt,
                   PangoAlignment align, int justify, double indent)
{
    PangoLayout *l = layout(pg->cr, markup, width, pt, align, justify, indent);
    double h = height_of(l);
    if (pg->y + h > PAGE_H - MARGIN_BOTTOM) {
        cairo_show_page(pg->cr);
        pg->y = MARGIN_TOP;
    }
    cairo_move_to(pg->cr, x, pg->y);
    pango_cairo_show_layout(pg->cr, l);
    g_object_unref(l);
    return h;
}

/* Markup of fmt with each %s argument escaped (the text is the
 * applicant's and the catalog's, never markup). */
static char *markup(const char *fmt, ...)
{
    va_list ap;
    char *out;
    va_start(ap, fmt);
    out = g_markup_vprintf_escaped(fmt, ap);
    va_end(ap);
    return out;
}

static const char *field(const json_t *p, const char *key)
{
    const char *v = mc_json_str(p, key);
    return v ? v : "";
}

static cairo_status_t to_stream(void *closure, const unsigned char *data, unsigned int length)
{
    return fwrite(data, 1, length, closure) == length ? CAIRO_STATUS_SUCCESS
                                                      : CAIRO_STATUS_WRITE_ERROR;
}

static void lay_out(struct page *pg, const json_t *p)
{
    const double left_w = TEXT_W * 0.40, right_x = MARGIN_LEFT + left_w, right_w = TEXT_W - left_w;
    const char *delegation = field(p, "signer_delegation");
    double y0, hl, hr;
    size_t i;
    json_t *v;
    char *m, *title;

    /* The heading: authority and number | motto, place and date. */
    y0 = pg->y;
    m = markup("<b>%s</b>\n\nSố: %s", field(p, "authority"), field(p, "document_number"));
    hl = show(pg, MARGIN_LEFT, m, left_w, 12, PANGO_ALIGN_CENTER, 0, 0);
    g_free(m);
    pg->y = y0;
    m = markup("<b>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM</b>\n<b><u>Độc lập - Tự do - Hạnh "
               "phúc</u></b>\n\n<i>%s, ngày %s</i>",
               field(p, "place"), field(p, "issued_date"));
    hr = show(pg, right_x, m, right_w, 12, PANGO_ALIGN_CENTER, 0, 0);
    g_free(m);
    pg->y = y0 + (hl > hr ? hl : hr) + 24;

    pg->y += show(pg, MARGIN_LEFT, "<b>PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ</b>", TEXT_W, 14,
                  PANGO_ALIGN_CENTER, 0, 0) +
             14;
    m = markup("Kính gửi: %s\nĐịa chỉ: %s", field(p, "addressee"),
               *field(p, "address") ? field(p, "address") : "(không ghi)");
    pg->y += show(pg, MARGIN_LEFT, m, TEXT_W, 13, PANGO_ALIGN_CENTER, 0, 0) + 12;
    g_free(m);

    json_array_foreach(json_object_get(p, "paragraphs"), i, v)
    {
        m = markup("%s", json_string_value(v) ? json_string_value(v) : "");
        pg->y += show(pg, MARGIN_LEFT, m, TEXT_W, 13, PANGO_ALIGN_LEFT, 1, 10 * PT_PER_MM) + 6;
        g_free(m);
    }
    pg->y += 12;

    /* Nơi nhận | the signer. */
    y0 = pg->y;
    {
        GString *r = g_string_new("<b><i>Nơi nhận:</i></b>");
        json_array_foreach(json_object_get(p, "recipients"), i, v)
        {
            char *line = g_markup_escape_text(json_string_value(v) ? json_string_value(v) : "", -1);
            g_string_append_printf(r, "\n- %s", line);
            g_free(line);
        }
        hl = show(pg, MARGIN_LEFT, r->str, left_w, 11, PANGO_ALIGN_LEFT, 0, 0);
        g_string_free(r, TRUE);
    }
    pg->y = y0;
    title = g_utf8_strup(field(p, "signer_title"), -1);
    m = *delegation ? markup("<b>%s\n%s</b>\n<i>(Đã ký số)</i>\n\n\n\n<b>%s</b>", delegation, title,
                             field(p, "signer_name"))
                    : markup("<b>%s</b>\n<i>(Đã ký số)</i>\n\n\n\n<b>%s</b>", title,
                             field(p, "signer_name"));
    hr = show(pg, right_x, m, right_w, 13, PANGO_ALIGN_CENTER, 0, 0);
    g_free(m);
    g_free(title);
    pg->y = y0 + (hl > hr ? hl : hr);
}

int mc_letter_pdf(const json_t *personalisation, unsigned char **pdf, size_t *len, char *err,
                  size_t errlen)
{
    char *buf = NULL, *title;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    cairo_surface_t *surface;
    struct page pg;
    cairo_status_t status;

    *pdf = NULL;
    *len = 0;
    if (f == NULL) {
        snprintf(err, errlen, "cannot buffer the PDF");
        return -1;
    }
    surface = cairo_pdf_surface_create_for_stream(to_stream, f, PAGE_W, PAGE_H);
    title = g_strdup_printf("Phiếu xin lỗi và hẹn lại ngày trả kết quả %s - hồ sơ %s",
                            field(personalisation, "document_number"),
                            field(personalisation, "dossier_code"));
    cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, title);
    cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_AUTHOR,
                                   field(personalisation, "authority"));
    cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "motcua");
    g_free(title);
    pg.cr = cairo_create(surface);
    pg.y = MARGIN_TOP;
    cairo_set_source_rgb(pg.cr, 0, 0, 0);
    lay_out(&pg, personalisation);
    cairo_show_page(pg.cr);
    cairo_destroy(pg.cr);
    cairo_surface_finish(surface);
    status = cairo_surface_status(surface);
    cairo_surface_destroy(surface);
    if (fclose(f) != 0 || status != CAIRO_STATUS_SUCCESS) {
        snprintf(err, errlen, "cannot write the PDF: %s", cairo_status_to_string(status));
        free(buf);
        return -1;
    }
    *pdf = (unsigned char *)buf;
    *len = size;
    return 0;
}
