/* `motcua sample`: deterministic sample submissions and unit updates for the
 * demo and the year's replay, drawn from the catalog in PostgreSQL. All
 * people are invented. */
#include "cli.h"
#include "sample.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "motcua/calendar.h"
#include "motcua/error.h"
#include "motcua/pg.h"
#include "motcua/timeutil.h"

#define SAMPLE_MAX_COUNT 1000000
#define ONLINE_PERMILLE 290  /* the reference city's online share, 29% */
#define RETURNED_PERMILLE 30 /* dossiers the unit returns (sample updates) */

/* ---- deterministic randomness (splitmix64) ---- */

struct rng {
    uint64_t state;
};

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rng_next(struct rng *r)
{
    r->state += 0x9e3779b97f4a7c15ULL;
    return mix64(r->state);
}

/* Uniform in [0, n); n > 0. The bias of the multiply-shift is < 2^-32. */
static uint32_t rng_below(struct rng *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [0, 1). */
static double rng_unit(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static int rng_permille(struct rng *r, int permille)
{
    return (int)rng_below(r, 1000) < permille;
}

#define PICK(r, array) ((array)[rng_below((r), sizeof(array) / sizeof((array)[0]))])

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* ---- invented people ---- */

struct name_part {
    const char *vi;
    const char *ascii; /* for e-mail addresses */
    int weight;
};

/* Family names, weighted roughly as in the Northern midlands; Bùi, Đinh,
 * Quách, Hà and Xa are common among the Mường of Hòa Bình. */
static const struct name_part ho_names[] = {
    {"Nguyễn", "nguyen", 30}, {"Bùi", "bui", 12},    {"Đinh", "dinh", 7},   {"Trần", "tran", 8},
    {"Lê", "le", 6},          {"Phạm", "pham", 5},   {"Hoàng", "hoang", 4}, {"Quách", "quach", 4},
    {"Hà", "ha", 3},          {"Vũ", "vu", 3},       {"Đỗ", "do", 3},       {"Ngô", "ngo", 2},
    {"Xa", "xa", 2},          {"Dương", "duong", 2}, {"Đặng", "dang", 2},   {"Phan", "phan", 2},
    {"Lương", "luong", 1},    {"Trịnh", "trinh", 1}, {"Cao", "cao", 1},     {"Lý", "ly", 1},
};

static const struct name_part dem_male[] = {
    {"Văn", "van", 10},  {"Đức", "duc", 3},   {"Minh", "minh", 3}, {"Quang", "quang", 2},
    {"Hữu", "huu", 2},   {"Công", "cong", 2}, {"Xuân", "xuan", 1}, {"Thanh", "thanh", 2},
    {"Mạnh", "manh", 1}, {"Tiến", "tien", 1},
};

static const struct name_part dem_female[] = {
    {"Thị", "thi", 10},      {"Thu", "thu", 2},   {"Thanh", "thanh", 2}, {"Ngọc", "ngoc", 2},
    {"Minh", "minh", 1},     {"Kim", "kim", 1},   {"Thùy", "thuy", 1},   {"Hồng", "hong", 1},
    {"Phương", "phuong", 1}, {"Hoài", "hoai", 1},
};

static const struct name_part ten_male[] = {
    {"An", "an", 1},       {"Bình", "binh", 1}, {"Cường", "cuong", 1}, {"Dũng", "dung", 1},
    {"Đức", "duc", 1},     {"Hải", "hai", 1},   {"Hùng", "hung", 1},   {"Hưng", "hung", 1},
    {"Khánh", "khanh", 1}, {"Long", "long", 1}, {"Minh", "minh", 1},   {"Nam", "nam", 1},
    {"Phong", "phong", 1}, {"Quân", "quan", 1}, {"Sơn", "son", 1},     {"Thắng", "thang", 1},
    {"Trung", "trung", 1}, {"Tuấn", "tuan", 1}, {"Việt", "viet", 1},   {"Vinh", "vinh", 1},
};

static const struct name_part ten_female[] = {
    {"Anh", "anh", 1},     {"Chi", "chi", 1},     {"Dung", "dung", 1},   {"Giang", "giang", 1},
    {"Hà", "ha", 1},       {"Hạnh", "hanh", 1},   {"Hoa", "hoa", 1},     {"Hương", "huong", 1},
    {"Huyền", "huyen", 1}, {"Lan", "lan", 1},     {"Linh", "linh", 1},   {"Loan", "loan", 1},
    {"Mai", "mai", 1},     {"Ngọc", "ngoc", 1},   {"Nhung", "nhung", 1}, {"Phương", "phuong", 1},
    {"Thảo", "thao", 1},   {"Trang", "trang", 1}, {"Vân", "van", 1},     {"Yến", "yen", 1},
};

#define NPARTS(a) (sizeof(a) / sizeof((a)[0]))

static const struct name_part *pick_part(struct rng *r, const struct name_part *parts, size_t n)
{
    int total = 0, x;
    for (size_t i = 0; i < n; i++)
        total += parts[i].weight;
    x = (int)rng_below(r, (uint32_t)total);
    for (size_t i = 0; i < n; i++) {
        if (x < parts[i].weight)
            return &parts[i];
        x -= parts[i].weight;
    }
    return &parts[n - 1];
}

struct person {
    char name[128];
    char slug[64]; /* ascii, for the e-mail address */
    int female;
    int birth_year;
};

static void make_person(struct rng *r, struct person *p)
{
    const struct name_part *ho = pick_part(r, ho_names, NPARTS(ho_names)), *dem, *ten;
    p->female = (int)rng_below(r, 2);
    dem = p->female ? pick_part(r, dem_female, NPARTS(dem_female))
                    : pick_part(r, dem_male, NPARTS(dem_male));
    ten = p->female ? pick_part(r, ten_female, NPARTS(ten_female))
                    : pick_part(r, ten_male, NPARTS(ten_male));
    p->birth_year = 1950 + (int)rng_below(r, 56);
    snprintf(p->name, sizeof p->name, "%s %s %s", ho->vi, dem->vi, ten->vi);
    snprintf(p->slug, sizeof p->slug, "%s%s%s", ten->ascii, dem->ascii, ho->ascii);
}

/* A fake 12-digit citizen ID in the shape of a chip card number: province
 * 017 (Hòa Bình), gender/century digit, two-digit birth year, six digits. */
static void make_citizen_id(struct rng *r, const struct person *p, char *buf, size_t len)
{
    int century = p->birth_year >= 2000 ? 2 : 0;
    snprintf(buf, len, "017%d%02d%06" PRIu32, century + p->female, p->birth_year % 100,
             rng_below(r, 1000000));
}

static void make_phone(struct rng *r, char *buf, size_t len)
{
    static const char *const prefixes[] = {"032", "033", "034", "035", "036", "037", "038",
                                           "039", "086", "096", "097", "098", "091", "094",
                                           "088", "083", "084", "085", "070", "076", "077",
                                           "078", "079", "089", "090", "093", "081", "082"};
    snprintf(buf, len, "%s%07" PRIu32, PICK(r, prefixes), rng_below(r, 10000000));
}

/* ---- the catalog ---- */

struct procedure {
    char *code, *name, *field, *level;
    int weight;
};

struct place {
    char *code, *name, *kind;
};

struct catalog {
    struct procedure *procs;
    int nprocs, total_weight;
    struct place *wards; /* wards and communes */
    int nwards;
    struct place *receptions;
    int nreceptions;
    char *default_reception;
};

/* Relative frequency of each field's dossiers at a city's desks (a guess
 * from practice: certification and civil status dominate). Per field,
 * shared by its procedures. */
static int field_weight(const char *field)
{
    static const struct {
        const char *needle;
        int weight;
    } table[] = {
        {"Chứng thực", 300},    {"Hộ tịch", 300},  {"Đất đai", 150},
        {"hộ kinh doanh", 100}, {"Bảo trợ", 60},   {"xây dựng", 50},
        {"hợp tác xã", 10},     {"khiếu nại", 10}, {"tố cáo", 5},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strstr(field, table[i].needle))
            return table[i].weight;
    return 50;
}

static void catalog_free(struct catalog *cat)
{
    for (int i = 0; i < cat->nprocs; i++) {
        free(cat->procs[i].code);
        free(cat->procs[i].name);
        free(cat->procs[i].field);
        free(cat->procs[i].level);
    }
    for (int i = 0; i < cat->nwards; i++) {
        free(cat->wards[i].code);
        free(cat->wards[i].name);
        free(cat->wards[i].kind);
    }
    for (int i = 0; i < cat->nreceptions; i++) {
        free(cat->receptions[i].code);
        free(cat->receptions[i].name);
        free(cat->receptions[i].kind);
    }
    free(cat->procs);
    free(cat->wards);
    free(cat->receptions);
    free(cat->default_reception);
    memset(cat, 0, sizeof *cat);
}

static char *dup_value(const PGresult *res, int row, int col)
{
    const char *v = mc_pg_value(res, row, col);
    return mc_xstrdup(v ? v : "");
}

static int load_places(PGconn *conn, const char *sql, struct place **out, int *n, char *err,
                       size_t errlen)
{
    PGresult *res = mc_pg_query(conn, sql, 0, NULL, err, errlen);
    if (res == NULL)
        return MC_EDB;
    *n = PQntuples(res);
    *out = mc_xcalloc((size_t)*n + 1, sizeof **out);
    for (int i = 0; i < *n; i++) {
        (*out)[i].code = dup_value(res, i, 0);
        (*out)[i].name = dup_value(res, i, 1);
        (*out)[i].kind = dup_value(res, i, 2);
    }
    PQclear(res);
    return 0;
}

static int catalog_load(PGconn *conn, struct catalog *cat, char *err, size_t errlen)
{
    PGresult *res = NULL;
    int rc;

    res = mc_pg_query(conn, "SELECT code, name, field, level FROM catalog.procedure ORDER BY code",
                      0, NULL, err, errlen);
    if (res == NULL)
        return MC_EDB;
    cat->nprocs = PQntuples(res);
    cat->procs = mc_xcalloc((size_t)cat->nprocs + 1, sizeof *cat->procs);
    for (int i = 0; i < cat->nprocs; i++) {
        cat->procs[i].code = dup_value(res, i, 0);
        cat->procs[i].name = dup_value(res, i, 1);
        cat->procs[i].field = dup_value(res, i, 2);
        cat->procs[i].level = dup_value(res, i, 3);
    }
    PQclear(res);
    /* Each field's weight is shared by its procedures. */
    for (int i = 0; i < cat->nprocs; i++) {
        int same = 1;
        for (int j = 0; j < cat->nprocs; j++)
            same += j != i && strcmp(cat->procs[i].field, cat->procs[j].field) == 0;
        cat->procs[i].weight = field_weight(cat->procs[i].field) * 10 / same + 1;
        cat->total_weight += cat->procs[i].weight;
    }
    if ((rc = load_places(conn,
                          "SELECT code, name, kind FROM catalog.unit"
                          " WHERE kind IN ('ward', 'commune') ORDER BY code",
                          &cat->wards, &cat->nwards, err, errlen)) != 0)
        return rc;
    if ((rc = load_places(conn,
                          "SELECT code, name, kind FROM catalog.unit"
                          " WHERE kind = 'reception' ORDER BY code",
                          &cat->receptions, &cat->nreceptions, err, errlen)) != 0)
        return rc;
    res = mc_pg_query(conn, "SELECT value FROM catalog.setting WHERE key = 'default_reception'", 0,
                      NULL, err, errlen);
    if (res == NULL)
        return MC_EDB;
    if (mc_pg_value(res, 0, 0))
        cat->default_reception = mc_xstrdup(mc_pg_value(res, 0, 0));
    PQclear(res);
    if (cat->nprocs == 0 || cat->nwards == 0 || cat->nreceptions == 0)
        return mc_err(err, errlen, MC_ENOTFOUND,
                      "the catalog has %d procedures, %d wards/communes, %d reception points:"
                      " load it first (motcua catalog load)",
                      cat->nprocs, cat->nwards, cat->nreceptions);
    return 0;
}

static const struct procedure *pick_procedure(struct rng *r, const struct catalog *cat)
{
    int x = (int)rng_below(r, (uint32_t)cat->total_weight);
    for (int i = 0; i < cat->nprocs; i++) {
        if (x < cat->procs[i].weight)
            return &cat->procs[i];
        x -= cat->procs[i].weight;
    }
    return &cat->procs[cat->nprocs - 1];
}

/* Wards and communes of the former Kỳ Sơn district (merged into the city in
 * 2020): their people mostly use the Kỳ Sơn reception point. */
static int near_ky_son(const char *ward_code)
{
    static const char *const codes[] = {"04894", "04897", "04903", "04906", "04912", "04921"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(codes[i], ward_code) == 0)
            return 1;
    return 0;
}

static const char *pick_reception(struct rng *r, const struct catalog *cat, const char *ward_code)
{
    const char *usual = cat->default_reception ? cat->default_reception : cat->receptions[0].code;
    if (near_ky_son(ward_code))
        for (int i = 0; i < cat->nreceptions; i++)
            if (strstr(cat->receptions[i].code, "KYSON"))
                usual = cat->receptions[i].code;
    if (rng_permille(r, 900))
        return usual;
    return cat->receptions[rng_below(r, (uint32_t)cat->nreceptions)].code;
}

/* ---- submissions ---- */

struct days {
    int32_t *working, *off; /* local days (mc_days_from_civil) */
    int nworking, noff;
};

static void days_free(struct days *m)
{
    free(m->working);
    free(m->off);
}

/* Splits the local days [first, next) into working days and days off, by
 * the catalog calendar. */
static int days_load(PGconn *conn, int32_t first, int32_t next, struct days *m, char *err,
                     size_t errlen)
{
    struct mc_calendar *cal = mc_calendar_new(NULL);
    int rc;

    if ((rc = mc_calendar_load(cal, conn, NULL, err, errlen)) != 0)
        goto out;
    m->working = mc_xcalloc((size_t)(next - first), sizeof *m->working);
    m->off = mc_xcalloc((size_t)(next - first), sizeof *m->off);
    for (int32_t day = first; day < next; day++) {
        if (mc_calendar_is_working_day(cal, day))
            m->working[m->nworking++] = day;
        else
            m->off[m->noff++] = day;
    }
    if (m->nworking == 0)
        rc = mc_err(err, errlen, MC_EINVAL, "no working day in the %d days asked for",
                    (int)(next - first));
out:
    mc_calendar_free(cal);
    return rc;
}

/* An instant at minute_of_day (plus random seconds) of a local day. */
static mc_instant at_minute(struct rng *r, int32_t day, int minute_of_day)
{
    return mc_vn_day_start(day) + (mc_instant)minute_of_day * 60 + rng_below(r, 60);
}

/* A random minute inside the default office hours (07:00-11:30,
 * 13:30-17:00), and the minute its session ends. */
static int office_minute(struct rng *r, int *session_end)
{
    int u = (int)rng_below(r, 480);
    if (u < 270) {
        *session_end = 11 * 60 + 30;
        return 7 * 60 + u;
    }
    *session_end = 17 * 60;
    return 13 * 60 + 30 + (u - 270);
}

/* When an online submission arrives: mostly in office hours of a working
 * day, but also evenings, early mornings, lunch breaks and days off. */
static mc_instant online_time(struct rng *r, const struct days *m)
{
    int end, u = (int)rng_below(r, 100);
    if (u < 15 && m->noff > 0) /* a weekend or holiday, 07:00-22:00 */
        return at_minute(r, m->off[rng_below(r, (uint32_t)m->noff)],
                         7 * 60 + (int)rng_below(r, 15 * 60));
    int32_t day = m->working[rng_below(r, (uint32_t)m->nworking)];
    if (u < 25) /* evening 17:00-23:00 */
        return at_minute(r, day, 17 * 60 + (int)rng_below(r, 6 * 60));
    if (u < 29) /* early morning 05:30-07:00 */
        return at_minute(r, day, 5 * 60 + 30 + (int)rng_below(r, 90));
    if (u < 33) /* lunch break 11:30-13:30 */
        return at_minute(r, day, 11 * 60 + 30 + (int)rng_below(r, 120));
    return at_minute(r, day, office_minute(r, &end));
}

static void add_document(json_t *docs, const char *name, const char *kind, int count)
{
    json_array_append_new(docs,
                          json_pack("{s:s, s:s, s:i}", "name", name, "kind", kind, "count", count));
}

/* The documents a dossier of this field typically holds. */
static json_t *make_documents(struct rng *r, const struct procedure *proc)
{
    json_t *docs = json_array();
    const char *f = proc->field;
    if (strstr(f, "Chứng thực")) {
        int n = 1 + (int)rng_below(r, 5);
        add_document(docs, "Bản chính giấy tờ, văn bản cần chứng thực", "original", n);
        add_document(docs, "Bản sao cần chứng thực", "copy", n);
    } else if (strstr(f, "Hộ tịch")) {
        add_document(docs, "Tờ khai theo mẫu quy định", "original", 1);
        add_document(docs, "Giấy tờ chứng minh nội dung yêu cầu đăng ký", "certified_copy",
                     1 + (int)rng_below(r, 2));
    } else if (strstr(f, "Đất đai")) {
        add_document(docs, "Đơn đề nghị theo mẫu", "original", 1);
        add_document(docs, "Giấy tờ về quyền sử dụng đất", "certified_copy", 1);
        add_document(docs, "Sơ đồ, trích lục thửa đất", "copy", 1);
    } else if (strstr(f, "hộ kinh doanh") || strstr(f, "hợp tác xã")) {
        add_document(docs, "Giấy đề nghị đăng ký theo mẫu", "original", 1);
        add_document(docs, "Bản sao giấy tờ pháp lý của cá nhân", "copy", 1);
    } else if (strstr(f, "xây dựng")) {
        add_document(docs, "Đơn đề nghị cấp giấy phép xây dựng", "original", 1);
        add_document(docs, "Giấy tờ về quyền sử dụng đất", "certified_copy", 1);
        add_document(docs, "Bản vẽ thiết kế xây dựng", "original", 2);
    } else if (strstr(f, "Bảo trợ")) {
        add_document(docs, "Tờ khai đề nghị trợ giúp xã hội theo mẫu", "original", 1);
        add_document(docs, "Giấy tờ chứng minh đối tượng", "certified_copy", 1);
    } else {
        add_document(docs, "Đơn theo mẫu", "original", 1);
        add_document(docs, "Tài liệu, chứng cứ kèm theo", "copy", 1 + (int)rng_below(r, 3));
    }
    return docs;
}

static const char *village_names[] = {"Mới",     "Trên", "Dưới", "Đồng",     "Bãi",
                                      "Tân Lập", "Chằm", "Cối",  "Đồng Bến", "Tiến Lập"};

/* One submission; returns its JSON (new reference). ext_id is set later. */
static json_t *make_submission(struct rng *r, const struct catalog *cat, const struct days *m,
                               int online, mc_instant *submitted_at)
{
    const struct procedure *proc = pick_procedure(r, cat);
    const struct place *ward = &cat->wards[rng_below(r, (uint32_t)cat->nwards)];
    struct person p;
    char buf[MC_RFC3339_LEN], idnum[32], phone[32], email[128], address[512], summary[600];
    const char *kind = "citizen", *name;
    char org[256];
    mc_instant received_at;
    json_t *doc, *applicant, *channels;
    int u;

    make_person(r, &p);
    make_citizen_id(r, &p, idnum, sizeof idnum);
    name = p.name;
    u = (int)rng_below(r, 100);
    if (strstr(proc->field, "hộ kinh doanh"))
        u = 100; /* a household business is registered by a citizen */
    if (strstr(proc->field, "hợp tác xã") || u < 3) {
        static const char *const trades[] = {"Thương mại", "Xây dựng", "Dịch vụ", "Vận tải",
                                             "Nông sản"};
        static const char *const marks[] = {"Sông Đà",  "Hòa Bình Xanh", "Mường Bi",
                                            "Đà Giang", "Phương Lâm",    "Kỳ Sơn"};
        int coop = strstr(proc->field, "hợp tác xã") != NULL;
        snprintf(org, sizeof org, "%s %s %s", coop ? "Hợp tác xã" : "Công ty TNHH", PICK(r, trades),
                 PICK(r, marks));
        name = org;
        kind = "business";
        snprintf(idnum, sizeof idnum, "5400%06" PRIu32, rng_below(r, 1000000));
    } else if (u == 3) {
        kind = "agency";
        snprintf(org, sizeof org, "Trường Tiểu học %s", ward->name);
        name = org;
        snprintf(idnum, sizeof idnum, "5400%06" PRIu32, rng_below(r, 1000000));
    } else if (u == 4) {
        kind = "other";
    }
    if (strcmp(ward->kind, "commune") == 0)
        snprintf(address, sizeof address, "Xóm %s, %s, thành phố Hòa Bình, tỉnh Hòa Bình",
                 PICK(r, village_names), ward->name);
    else
        snprintf(address, sizeof address, "Tổ %d, %s, thành phố Hòa Bình, tỉnh Hòa Bình",
                 1 + (int)rng_below(r, 20), ward->name);
    make_phone(r, phone, sizeof phone);
    snprintf(email, sizeof email, "%s%02" PRIu32 "@example.com", p.slug, rng_below(r, 100));

    applicant = json_pack("{s:s, s:s, s:s}", "kind", kind, "name", name, "id_number", idnum);
    if (online || rng_permille(r, 900))
        json_object_set_new(applicant, "phone", json_string(phone));
    if (online || rng_permille(r, 200))
        json_object_set_new(applicant, "email", json_string(email));
    json_object_set_new(applicant, "address", json_string(address));

    channels = json_array();
    if (online) {
        *submitted_at = online_time(r, m);
        received_at = *submitted_at;
        u = (int)rng_below(r, 100);
        json_array_append_new(channels, json_string(u < 20 ? "zalo" : "email"));
        if (u < 50)
            json_array_append_new(channels, json_string(u < 20 ? "email" : "sms"));
    } else {
        int end, minute = office_minute(r, &end);
        int32_t day = m->working[rng_below(r, (uint32_t)m->nworking)];
        int wait = end - minute > 10 ? 10 : end - minute; /* minutes to the officer's stamp */
        *submitted_at = at_minute(r, day, minute);
        received_at = *submitted_at + (mc_instant)rng_below(r, (uint32_t)wait * 60);
        u = (int)rng_below(r, 100);
        if (u < 60) {
            json_array_append_new(channels, json_string("counter"));
        } else if (u < 85) {
            json_array_append_new(channels, json_string("sms"));
            json_array_append_new(channels, json_string("counter"));
        } else {
            json_array_append_new(channels, json_string("post"));
        }
    }
    snprintf(summary, sizeof summary, "Đề nghị giải quyết: %s",
             strncmp(proc->name, "Thủ tục ", strlen("Thủ tục ")) == 0
                 ? proc->name + strlen("Thủ tục ")
                 : proc->name);

    doc = json_object();
    json_object_set_new(doc, "source", json_string(online ? "dvc-hoabinh" : "motcua-counter"));
    json_object_set_new(doc, "external_id", json_string("")); /* set in time order */
    json_object_set_new(doc, "submitted_at", json_string(mc_time_format(*submitted_at, buf)));
    json_object_set_new(doc, "received_at", json_string(mc_time_format(received_at, buf)));
    json_object_set_new(doc, "channel", json_string(online ? "online" : "counter"));
    json_object_set_new(doc, "procedure_code", json_string(proc->code));
    json_object_set_new(doc, "ward_code", json_string(ward->code));
    if (!online)
        json_object_set_new(doc, "reception_point",
                            json_string(pick_reception(r, cat, ward->code)));
    json_object_set_new(doc, "applicant", applicant);
    json_object_set_new(doc, "summary", json_string(summary));
    json_object_set_new(doc, "documents", make_documents(r, proc));
    json_object_set_new(doc, "notify_channels", channels);
    return doc;
}

static int item_cmp(const void *a, const void *b)
{
    const struct mc_sample_msg *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

void mc_sample_list_sort(struct mc_sample_list *l)
{
    if (l->n > 1)
        qsort(l->items, (size_t)l->n, sizeof *l->items, item_cmp);
}

void mc_sample_list_free(struct mc_sample_list *l)
{
    for (int i = 0; i < l->n; i++)
        json_decref(l->items[i].doc);
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* Appends doc (taken) at instant at; the creation order breaks ties. */
static void list_push(struct mc_sample_list *l, mc_instant at, json_t *doc)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->items = realloc(l->items, (size_t)l->cap * sizeof *l->items);
        if (l->items == NULL)
            abort();
    }
    l->items[l->n].at = at;
    l->items[l->n].index = l->n;
    l->items[l->n].doc = doc;
    l->n++;
}

const char *mc_sample_key(const struct mc_sample_msg *msg, char *buf, size_t len)
{
    const char *code = json_string_value(json_object_get(msg->doc, "dossier_code"));
    if (code != NULL)
        return code;
    snprintf(buf, len, "%s/%s", json_string_value(json_object_get(msg->doc, "source")),
             json_string_value(json_object_get(msg->doc, "external_id")));
    return buf;
}

/* Prints "KEY<TAB>JSON\n"; 0 or MC_EIO. */
static int print_line(const char *key, const json_t *doc, char *err, size_t errlen)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    int rc = 0;
    if (text == NULL)
        return mc_err(err, errlen, MC_EINVAL, "cannot serialise a sample message");
    if (printf("%s\t%s\n", key, text) < 0)
        rc = mc_err(err, errlen, MC_EIO, "write to stdout: %s", strerror(errno));
    free(text);
    return rc;
}

static int parse_month(const char *s, int *year, int *month)
{
    char tail;
    return sscanf(s, "%4d-%2d%c", year, month, &tail) == 2 && *year >= 2000 && *year <= 2100 &&
                   *month >= 1 && *month <= 12
               ? 0
               : MC_EINVAL;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    if (s == NULL || *s == '\0' || *s == '-')
        return MC_EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return MC_EINVAL;
    *out = v;
    return 0;
}

static PGconn *connect_from_env(char *err, size_t errlen)
{
    const char *url = getenv("MOTCUA_PG_URL");
    if (url == NULL || *url == '\0') {
        mc_err(err, errlen, MC_EINVAL, "MOTCUA_PG_URL is not set");
        return NULL;
    }
    return mc_pg_connect(url, "motcua-sample", err, errlen);
}

int mc_sample_submissions(PGconn *conn, int32_t first_day, int32_t next_day, int count,
                          int online_count, uint64_t seed, const char *tag,
                          struct mc_sample_list *out, char *err, size_t errlen)
{
    struct catalog cat = {0};
    struct days days = {0};
    struct mc_sample_list made = {0};
    struct rng r = {.state = mix64(seed ^ 0x7375626d6973ULL)};
    int rc, seq_online = 0, seq_counter = 0;
    char *online = NULL;

    if (count < 0 || online_count < 0 || online_count > count)
        return mc_err(err, errlen, MC_EINVAL, "%d online submissions of %d", online_count, count);
    if ((rc = catalog_load(conn, &cat, err, errlen)) != 0 ||
        (rc = days_load(conn, first_day, next_day, &days, err, errlen)) != 0)
        goto out;

    /* Exactly the online share, spread at random (Fisher-Yates). */
    online = mc_xcalloc((size_t)count + 1, 1);
    for (int i = 0; i < online_count; i++)
        online[i] = 1;
    for (int i = count - 1; i > 0; i--) {
        int j = (int)rng_below(&r, (uint32_t)i + 1);
        char t = online[i];
        online[i] = online[j];
        online[j] = t;
    }
    for (int i = 0; i < count; i++) {
        mc_instant at;
        json_t *doc = make_submission(&r, &cat, &days, online[i], &at);
        list_push(&made, at, doc);
    }
    mc_sample_list_sort(&made);
    /* External ids in time order, appended to out. */
    for (int i = 0; i < made.n; i++) {
        json_t *doc = made.items[i].doc;
        int is_online = strcmp(json_string_value(json_object_get(doc, "channel")), "online") == 0;
        char ext[96];
        snprintf(ext, sizeof ext, "%s-%s-%05d", is_online ? "DVC" : "TN", tag,
                 is_online ? ++seq_online : ++seq_counter);
        json_object_set_new(doc, "external_id", json_string(ext));
        list_push(out, made.items[i].at, json_incref(doc));
    }
out:
    mc_sample_list_free(&made);
    free(online);
    days_free(&days);
    catalog_free(&cat);
    return rc;
}

static int sample_submissions(int year, int month, int count, uint64_t seed, char *err,
                              size_t errlen)
{
    struct mc_sample_list list = {0};
    PGconn *conn = NULL;
    int32_t first = mc_days_from_civil(year, month, 1);
    int32_t next =
        month == 12 ? mc_days_from_civil(year + 1, 1, 1) : mc_days_from_civil(year, month + 1, 1);
    int rc;
    char tag[64];

    if ((conn = connect_from_env(err, errlen)) == NULL)
        return MC_EDB;
    snprintf(tag, sizeof tag, "%02d%02d-%" PRIu64, year % 100, month, seed);
    rc = mc_sample_submissions(conn, first, next, count, (count * ONLINE_PERMILLE + 500) / 1000,
                               seed, tag, &list, err, errlen);
    for (int i = 0; i < list.n && rc == 0; i++) {
        char key[256];
        rc = print_line(mc_sample_key(&list.items[i], key, sizeof key), list.items[i].doc, err,
                        errlen);
    }
    if (rc == 0 && fflush(stdout) != 0)
        rc = mc_err(err, errlen, MC_EIO, "write to stdout: %s", strerror(errno));
    mc_sample_list_free(&list);
    PQfinish(conn);
    return rc;
}

/* ---- updates ---- */

/* A dossier's fate, drawn per dossier among those its unit answers: the
 * shares are per mille of the answered dossiers (a guess from practice). */
#define RESCHEDULE_PERMILLE 50         /* the unit announces it will be late */
#define LATE_FINISH_PERMILLE 30        /* finished after the due date, no warning */
#define SUPPLEMENT_PERMILLE 100        /* the applicant must complete the dossier */
#define SECOND_SUPPLEMENT_PERMILLE 150 /* of those: a second request (late) */
#define RESCHEDULE_KEPT_PERMILLE 550   /* rescheduled ones done by the new date */
#define SECOND_RESCHEDULE_EVERY 3      /* of those that miss it, every third asks again */
#define EXPLAINED_PERMILLE 750         /* late units whose head explains in time */
#define PAYING_PERMILLE 600            /* land dossiers that wait for fees and taxes */

#define WD ((int64_t)MC_WORKING_DAY_SECONDS)
#define WH ((int64_t)3600)

/* A UUID (version 4 layout) derived from seed, dossier code and the number
 * of the update within the dossier, so a re-run re-sends the same events. */
static void make_event_id(uint64_t seed, const char *code, int seq, char *buf, size_t len)
{
    uint64_t hi =
        mix64(mix64(seed ^ fnv1a(code) ^ 0x6576656e74ULL) + (uint64_t)seq * 0x9e3779b97f4a7c15ULL);
    uint64_t lo = mix64(hi ^ 0x9e3779b97f4a7c15ULL);
    hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL; /* version 4 */
    lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL; /* variant 10 */
    snprintf(buf, len, "%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%012" PRIx64,
             hi >> 32, (hi >> 16) & 0xffff, hi & 0xffff, lo >> 48, lo & (uint64_t)0xffffffffffff);
}

static const char *const return_reasons[] = {
    "Hồ sơ không đủ điều kiện giải quyết theo quy định",
    "Người nộp hồ sơ đề nghị rút hồ sơ để hoàn thiện lại",
    "Nội dung đề nghị không thuộc thẩm quyền giải quyết của đơn vị",
};

/* Reasons a unit gives, for land and construction dossiers and for the
 * others. */
static const char *const supplement_reasons_land[] = {
    "Cần bổ sung giấy tờ chứng minh quyền sử dụng đất",
    "Bản vẽ kèm theo không đúng tỷ lệ, đề nghị nộp lại",
    "Thiếu chữ ký của các đồng sở hữu trong đơn đề nghị",
};

static const char *const supplement_reasons_other[] = {
    "Thiếu bản sao chứng thực Căn cước công dân của người đề nghị",
    "Tờ khai chưa ghi đủ thông tin theo mẫu quy định",
    "Thiếu giấy tờ chứng minh nội dung đề nghị",
};

static const char *const reschedule_reasons_land[] = {
    "Cần xác minh thực địa, lấy ý kiến cơ quan liên quan",
    "Cần đo đạc, kiểm tra lại hiện trạng thửa đất",
    "Chờ ý kiến chuyên môn của cơ quan cấp trên",
};

static const char *const reschedule_reasons_other[] = {
    "Cần xác minh thông tin, lấy ý kiến cơ quan liên quan",
    "Chờ ý kiến chuyên môn của cơ quan cấp trên",
    "Phải lấy ý kiến của khu dân cư nơi người đề nghị cư trú",
};

static const char *const second_reschedule_reasons_land[] = {
    "Kết quả đo đạc chưa được phê duyệt, đề nghị lùi ngày hẹn",
    "Chưa nhận được ý kiến của cơ quan liên quan, đề nghị gia hạn thêm",
};

static const char *const second_reschedule_reasons_other[] = {
    "Chưa nhận được ý kiến của cơ quan liên quan, đề nghị gia hạn thêm",
};

/* A late unit head's explanation (giải trình) of the breach. */
static const char *const explanation_texts[] = {
    "Hồ sơ phải lấy ý kiến của cơ quan liên quan, văn bản trả lời đến chậm; đơn vị đã chấn chỉnh "
    "việc theo dõi thời hạn.",
    "Cán bộ thụ lý nghỉ ốm đột xuất, việc bàn giao hồ sơ không kịp thời; đơn vị đã kiểm điểm "
    "trách nhiệm cá nhân.",
    "Khối lượng hồ sơ tăng đột biến trong tháng; đơn vị đã bố trí thêm cán bộ giải quyết.",
    "Phải xác minh thực địa, thời tiết không thuận lợi; đơn vị nhận trách nhiệm và đã điều chỉnh "
    "kế hoạch xác minh.",
};

static int is_land(const char *field)
{
    return strstr(field, "Đất đai") != NULL || strstr(field, "xây dựng") != NULL;
}

#define REASON(r, field, kind) (is_land(field) ? PICK((r), kind##_land) : PICK((r), kind##_other))

/* Appends one unit update. reason and new_due (0: none) as the status needs;
 * to_unit for a transfer. */
static void add_update(struct mc_sample_list *l, uint64_t seed, const char *code, int *seq,
                       mc_instant at, const char *status, const char *unit, const char *officer,
                       const char *reason, mc_instant new_due, const char *to_unit)
{
    char event_id[40], buf[MC_RFC3339_LEN];
    json_t *data;
    make_event_id(seed, code, (*seq)++, event_id, sizeof event_id);
    data = json_pack("{s:s, s:s, s:s}", "status", status, "unit_code", unit, "officer", officer);
    if (reason)
        json_object_set_new(data, "reason", json_string(reason));
    if (new_due)
        json_object_set_new(data, "new_due_at", json_string(mc_time_format(new_due, buf)));
    if (to_unit)
        json_object_set_new(data, "to_unit_code", json_string(to_unit));
    list_push(l, at,
              json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "event_id", event_id, "type",
                        "dossier.update", "occurred_at", mc_time_format(at, buf), "producer",
                        "unit-sim", "dossier_code", code, "data", data));
}

/* Uniform in [lo, hi); lo when the range is empty. */
static int64_t rng_span(struct rng *r, int64_t lo, int64_t hi)
{
    return hi <= lo ? lo : lo + (int64_t)((double)(hi - lo) * rng_unit(r));
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* What happens to one dossier (see the shares above). */
struct dossier_ctx {
    const struct mc_calendar *cal;
    struct mc_sample_list *out;
    uint64_t seed;
    const char *code, *unit, *field;
    const char *transfer_to; /* the department it is handed to (liên thông), or NULL */
    mc_instant start, due;   /* the clock's start (receipt) and the legal due date */
    int64_t w;               /* working seconds from start to due */
    int reschedule_permille, supplement_permille; /* of the dossiers that can have one */
    int *missed_reschedules; /* rescheduled dossiers that missed the new date so far */
    struct rng r;
};

/* Whether a reschedule fits: a working day to speak up in, and a due date
 * within about five weeks of receipt (so the demo's months see the end). */
static int can_reschedule(int64_t w)
{
    return w >= 2 * WD && w <= 25 * WD;
}

static int can_supplement(int64_t w)
{
    return w >= 2 * WD;
}

/* The instant `off` seconds of working time after the clock started. */
static mc_instant at_off(const struct dossier_ctx *x, int64_t off)
{
    return mc_calendar_add_working(x->cal, x->start, off);
}

/* The instant `off` seconds of working time after the due date. */
static mc_instant after_due(const struct dossier_ctx *x, int64_t off)
{
    return mc_calendar_add_working(x->cal, x->due, off);
}

/* After a breach, most late units' heads explain within two working days
 * (the deadline is three); the others are escalated. */
static void maybe_explain(struct dossier_ctx *x, struct rng *r, int *seq, const char *officer)
{
    if (rng_permille(r, EXPLAINED_PERMILLE))
        add_update(x->out, x->seed, x->code, seq, after_due(x, rng_span(r, WD + WH, 2 * WD)),
                   "explanation", x->unit, officer, PICK(r, explanation_texts), 0, NULL);
}

static void dossier_updates(struct dossier_ctx *x, struct rng *r)
{
    const struct mc_calendar *cal = x->cal;
    int64_t w = x->w, p, f;
    struct person officer;
    int seq = 0;

#define UPDATE(at, status, reason, new_due)                                                        \
    add_update(x->out, x->seed, x->code, &seq, (at), (status), x->unit, officer.name, (reason),    \
               (new_due), NULL)

    make_person(r, &officer);
    if (w < 600)
        w = 600;
    /* The unit takes the dossier up soon after receipt. */
    p = rng_span(r, 15 * 60, 3 * WH);
    if (p > w / 10)
        p = max64(60, w / 10);
    UPDATE(at_off(x, p), "processing", NULL, 0);
    if (x->transfer_to != NULL && w >= 2 * WD) {
        /* Liên thông: the ward checks the dossier and hands it to the city's
         * department, which takes it up within the hour. */
        int64_t t = rng_span(r, p + WH / 2, p + max64(WH, (w - p) / 8));
        add_update(x->out, x->seed, x->code, &seq, at_off(x, t), "transfer", x->unit, officer.name,
                   "Chuyển cơ quan chuyên môn cấp thành phố giải quyết theo thẩm quyền", 0,
                   x->transfer_to);
        x->unit = x->transfer_to;
        make_person(r, &officer);
        p = t + rng_span(r, 10 * 60, WH);
        UPDATE(at_off(x, p), "processing", NULL, 0);
    }

    if (rng_permille(r, RETURNED_PERMILLE)) {
        UPDATE(at_off(x, rng_span(r, p + (w - p) / 5, p + (w - p) * 7 / 10)), "returned",
               PICK(r, return_reasons), 0);
        return;
    }
    if (can_reschedule(w) && rng_permille(r, x->reschedule_permille)) {
        /* Spoken up at least one working day before the due date, with a new
         * date 3 to 5 working days after it. The official date still passes:
         * a first apology; then either done by the new date or a second one. */
        int k = 3 + (int)rng_below(r, 3);
        mc_instant new_due = after_due(x, k * WD);
        UPDATE(at_off(x, rng_span(r, max64(p + WH, w - 3 * WD), w - WD - WH / 2)), "reschedule",
               REASON(r, x->field, reschedule_reasons), new_due);
        if (rng_permille(r, RESCHEDULE_KEPT_PERMILLE)) {
            UPDATE(after_due(x, rng_span(r, WD, k * WD - WH)), "result_ready", NULL, 0);
        } else if ((*x->missed_reschedules)++ % SECOND_RESCHEDULE_EVERY == 0) {
            /* Asks again a working day before the new date: refused. */
            UPDATE(after_due(x, (k - 1) * WD - WH), "reschedule",
                   REASON(r, x->field, second_reschedule_reasons),
                   mc_calendar_add_working(cal, new_due, 3 * WD));
        }
        /* The official date passed (a breach and its letter) all the same. */
        maybe_explain(x, r, &seq, officer.name);
        return;
    }
    if (rng_permille(r, LATE_FINISH_PERMILLE)) {
        /* No warning heeded, no reschedule: breaches first, then finishes. */
        UPDATE(after_due(x, rng_span(r, WD, 4 * WD)), "result_ready", NULL, 0);
        maybe_explain(x, r, &seq, officer.name);
        return;
    }
    if (can_supplement(w) && rng_permille(r, x->supplement_permille)) {
        /* Offsets count the unit's working time only; the applicant's time
         * (paused) is added on top, so the result stays within the extended
         * due date under either supplement policy. */
        int64_t paused = 0, req = rng_span(r, p + WH, p + (w - p) / 2), wait;
        UPDATE(at_off(x, req), "supplement_requested", REASON(r, x->field, supplement_reasons), 0);
        wait = rng_span(r, WD, 5 * WD);
        UPDATE(at_off(x, req + wait), "supplement_received", NULL, 0);
        paused += wait;
        if (rng_permille(r, SECOND_SUPPLEMENT_PERMILLE)) {
            req = rng_span(r, req + WH, req + (w - req) * 2 / 3);
            UPDATE(at_off(x, req + paused), "supplement_requested",
                   REASON(r, x->field, supplement_reasons), 0);
            wait = rng_span(r, WD, 3 * WD);
            UPDATE(at_off(x, req + paused + wait), "supplement_received", NULL, 0);
            paused += wait;
        }
        UPDATE(at_off(x, rng_span(r, req + WH, w * 95 / 100) + paused), "result_ready", NULL, 0);
        return;
    }
    /* In time: between a quarter of the allowed time and 95% of it. */
    f = rng_span(r, max64(p + WH / 2, w / 4), w * 95 / 100);
    if (f >= w * 95 / 100)
        f = p + (w - p) * 6 / 10;
    if (is_land(x->field) && f - p > WH && rng_permille(r, PAYING_PERMILLE))
        UPDATE(at_off(x, rng_span(r, p + (f - p) / 2, f - WH / 2)), "paying", NULL, 0);
    UPDATE(at_off(x, f), "result_ready", NULL, 0);
#undef UPDATE
}

#define TRANSFER_PERMILLE 250 /* land and construction dossiers a ward hands on */

struct mc_sample_units {
    struct mc_calendar *cal;
    uint64_t seed;
    uint32_t late_permyriad;
    int missed_reschedules;              /* rescheduled dossiers that missed the new date so far */
    json_t *wards;                       /* codes of wards and communes: {code: true} */
    char *land_dept, *construction_dept; /* where a ward transfers them, or NULL */
};

void mc_sample_units_free(struct mc_sample_units *u)
{
    if (u == NULL)
        return;
    mc_calendar_free(u->cal);
    json_decref(u->wards);
    free(u->land_dept);
    free(u->construction_dept);
    free(u);
}

/* The units a dossier can be transferred to, by code (the first column). */
#define UNIT_REST(X) X(UN_KIND, "kind", "kind")
enum { UN_CODE, UNIT_REST(MC_PG_COL_ENUM) UN_COUNT };

struct mc_sample_units *mc_sample_units_new(PGconn *conn, double late_share, uint64_t seed,
                                            char *err, size_t errlen)
{
    struct mc_sample_units *u = mc_xcalloc(1, sizeof *u);
    PGresult *res;

    u->cal = mc_calendar_new(NULL);
    u->seed = seed;
    u->late_permyriad = (uint32_t)(late_share * 10000.0 + 0.5);
    u->wards = json_object();
    if (mc_calendar_load(u->cal, conn, NULL, err, errlen) != 0)
        goto fail;
    /* The sample city's departments for land (Phòng Tài nguyên và Môi
     * trường) and construction (Phòng Quản lý đô thị), if the catalog has
     * them. */
    res = mc_pg_query(
        conn,
        "SELECT code" UNIT_REST(
            MC_PG_COL_SQL) " FROM catalog.unit WHERE kind IN "
                           "('ward', 'commune') OR code IN ('PTNMT', 'PQLDT') ORDER BY code",
        0, NULL, err, errlen);
    if (res == NULL)
        goto fail;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *code = PQgetvalue(res, i, UN_CODE), *kind = PQgetvalue(res, i, UN_KIND);
        if (strcmp(kind, "ward") == 0 || strcmp(kind, "commune") == 0)
            json_object_set_new(u->wards, code, json_true());
        else if (strcmp(code, "PTNMT") == 0)
            u->land_dept = mc_xstrdup(code);
        else
            u->construction_dept = mc_xstrdup(code);
    }
    PQclear(res);
    return u;
fail:
    mc_sample_units_free(u);
    return NULL;
}

int mc_sample_units_plan(struct mc_sample_units *u, const PGresult *res, struct mc_sample_list *out,
                         char *err, size_t errlen)
{
    static const char *const names[] = {"dossier_code", "unit_code", "receipt", "due", "field"};
    enum { PL_CODE, PL_UNIT, PL_RECEIPT, PL_DUE, PL_FIELD, PL_COUNT };
    int nrows = PQntuples(res), n = 0, can_r = 0, can_s = 0, col[PL_COUNT];
    int submission = PQfnumber(res, "submission");
    struct dossier_ctx *rows;

    if (mc_pg_columns(res, names, PL_COUNT, col, err, errlen) != 0)
        return MC_EINVAL;
    rows = mc_xcalloc((size_t)nrows + 1, sizeof *rows);

    /* First the dossiers the units answer, to scale the shares of fates that
     * only some dossiers can have to the whole. */
    for (int i = 0; i < nrows; i++) {
        struct dossier_ctx *x = &rows[n];
        const char *receipt_s = mc_pg_value(res, i, col[PL_RECEIPT]);
        const char *due_s = mc_pg_value(res, i, col[PL_DUE]), *stable;
        x->cal = u->cal;
        x->out = out;
        x->seed = u->seed;
        x->missed_reschedules = &u->missed_reschedules;
        x->code = mc_pg_value(res, i, col[PL_CODE]);
        x->unit = mc_pg_value(res, i, col[PL_UNIT]);
        x->field = mc_pg_value(res, i, col[PL_FIELD]);
        if (x->code == NULL || x->unit == NULL || receipt_s == NULL || due_s == NULL)
            continue;
        if (x->field == NULL)
            x->field = "";
        /* The dossier's fate follows from what was submitted (source and
         * external id), not from the code intake gave it, which depends on
         * the order intake read the partitions in: a replay with the same
         * seed draws the same fates. */
        stable = submission >= 0 ? mc_pg_value(res, i, submission) : NULL;
        x->r.state = mix64(u->seed) ^ fnv1a(stable ? stable : x->code);
        if (rng_below(&x->r, 10000) < u->late_permyriad)
            continue; /* no answer from the unit: this dossier will be late */
        x->start = mc_calendar_receipt_at(u->cal, strtoll(receipt_s, NULL, 10));
        x->due = strtoll(due_s, NULL, 10);
        x->w = mc_calendar_working_between(u->cal, x->start, x->due);
        if (json_object_get(u->wards, x->unit) && rng_permille(&x->r, TRANSFER_PERMILLE))
            x->transfer_to = strstr(x->field, "Đất đai")    ? u->land_dept
                             : strstr(x->field, "xây dựng") ? u->construction_dept
                                                            : NULL;
        can_r += can_reschedule(x->w);
        can_s += can_supplement(x->w);
        n++;
    }
    for (int i = 0; i < n; i++) {
        rows[i].reschedule_permille = can_r ? (int)((int64_t)RESCHEDULE_PERMILLE * n / can_r) : 0;
        rows[i].supplement_permille = can_s ? (int)((int64_t)SUPPLEMENT_PERMILLE * n / can_s) : 0;
        dossier_updates(&rows[i], &rows[i].r);
    }
    free(rows);
    return 0;
}

static int sample_updates(double late_share, uint64_t seed, int with_time, char *err, size_t errlen)
{
    static const char sql[] =
        "SELECT a.dossier_code, a.unit_code, extract(epoch FROM a.receipt_at)::bigint AS receipt,"
        " extract(epoch FROM a.due_at)::bigint AS due, coalesce(p.field, '') AS field,"
        " d.source || '/' || d.external_id AS submission"
        " FROM routing.assignment a LEFT JOIN catalog.procedure p ON p.code = a.procedure_code"
        " LEFT JOIN intake.dossier d ON d.code = a.dossier_code"
        " ORDER BY d.source, d.external_id, a.dossier_code";
    PGconn *conn = NULL;
    PGresult *res = NULL;
    struct mc_sample_units *units = NULL;
    struct mc_sample_list list = {0};
    int rc = 0;

    if ((conn = connect_from_env(err, errlen)) == NULL)
        return MC_EDB;
    if ((units = mc_sample_units_new(conn, late_share, seed, err, errlen)) == NULL) {
        rc = MC_EDB;
        goto out;
    }
    if ((res = mc_pg_query(conn, sql, 0, NULL, err, errlen)) == NULL) {
        rc = MC_EDB;
        goto out;
    }
    if ((rc = mc_sample_units_plan(units, res, &list, err, errlen)) != 0)
        goto out;
    /* Units answer in time order. */
    mc_sample_list_sort(&list);
    for (int i = 0; i < list.n && rc == 0; i++) {
        const char *key = json_string_value(json_object_get(list.items[i].doc, "dossier_code"));
        if (with_time) {
            char at[MC_RFC3339_LEN];
            if (printf("%s\t", mc_time_format(list.items[i].at, at)) < 0) {
                rc = mc_err(err, errlen, MC_EIO, "write to stdout: %s", strerror(errno));
                break;
            }
        }
        rc = print_line(key, list.items[i].doc, err, errlen);
    }
    if (rc == 0 && fflush(stdout) != 0)
        rc = mc_err(err, errlen, MC_EIO, "write to stdout: %s", strerror(errno));
out:
    mc_sample_list_free(&list);
    mc_sample_units_free(units);
    PQclear(res);
    PQfinish(conn);
    return rc;
}

/* ---- command line ---- */

static int usage(const char *why)
{
    if (why)
        fprintf(stderr, "motcua sample: %s\n", why);
    fprintf(stderr, "usage: motcua sample submissions --month YYYY-MM --count N --seed S\n"
                    "       motcua sample updates --late-share F --seed S [--with-time]\n"
                    "Prints KEY<TAB>JSON lines for `motcua produce`; reads MOTCUA_PG_URL.\n"
                    "updates: each assigned dossier's life at its unit (processing, supplements,\n"
                    "returns, reschedules, late and in-time results), in simulated time order;\n"
                    "the --late-share F of dossiers get no update at all. --with-time prefixes\n"
                    "each line with its instant: RFC3339<TAB>KEY<TAB>JSON.\n");
    return 2;
}

int mc_cli_sample(int argc, char **argv)
{
    const char *month_s = NULL, *count_s = NULL, *seed_s = NULL, *late_s = NULL;
    char err[512] = "";
    uint64_t seed = 0, count = 0;
    int year = 0, month = 0, rc, with_time = 0;
    double late_share = 0.0;

    if (argc < 2)
        return usage(NULL);
    for (int i = 2; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--month") == 0        ? &month_s
                            : strcmp(argv[i], "--count") == 0      ? &count_s
                            : strcmp(argv[i], "--seed") == 0       ? &seed_s
                            : strcmp(argv[i], "--late-share") == 0 ? &late_s
                                                                   : NULL;
        if (strcmp(argv[i], "--with-time") == 0) {
            with_time = 1;
            continue;
        }
        if (slot == NULL || i + 1 >= argc)
            return usage(slot ? "option needs a value" : "unknown option");
        *slot = argv[++i];
    }
    if (seed_s == NULL || parse_u64(seed_s, &seed) != 0)
        return usage("--seed needs a non-negative integer");

    if (strcmp(argv[1], "submissions") == 0) {
        if (month_s == NULL || parse_month(month_s, &year, &month) != 0)
            return usage("--month needs YYYY-MM");
        if (count_s == NULL || parse_u64(count_s, &count) != 0 || count < 1 ||
            count > SAMPLE_MAX_COUNT)
            return usage("--count needs an integer from 1 to 1000000");
        if (late_s != NULL || with_time)
            return usage("--late-share and --with-time belong to `sample updates`");
        rc = sample_submissions(year, month, (int)count, seed, err, sizeof err);
    } else if (strcmp(argv[1], "updates") == 0) {
        char *end = NULL;
        if (late_s != NULL) {
            errno = 0;
            late_share = strtod(late_s, &end);
        }
        if (late_s == NULL || errno != 0 || end == late_s || *end != '\0' ||
            !(late_share >= 0.0 && late_share <= 1.0))
            return usage("--late-share needs a number from 0 to 1");
        if (month_s != NULL || count_s != NULL)
            return usage("--month and --count belong to `sample submissions`");
        rc = sample_updates(late_share, seed, with_time, err, sizeof err);
    } else {
        return usage("unknown sample kind");
    }
    if (rc != 0) {
        fprintf(stderr, "motcua sample: %s\n", err);
        return 1;
    }
    return 0;
}
