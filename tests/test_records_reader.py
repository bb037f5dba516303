"""Reading, validating and minimising recipient files through the public functions of
gateway.core.records (read_header, scan, iter_records, minimise)."""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
import os
import re
import stat
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.core.records.errors import RecordFileError
from gateway.core.records.fields import CANONICAL_FIELDS, SCHEMAS, field_for_header
from gateway.core.records.formulas import neutralise
from gateway.core.records.reader import BLOCK_ROWS, iter_records, minimise, read_header, scan
from gateway.core.records.values import RULES
from gateway.errors import GatewayError

KURUME = list(SCHEMAS["kurume-2020"])
ROW = [
    "山田\u3000太郎", "1975-01-01", "男", "福岡県久留米市城南町15番地3", "830-0022", "0942-30-9000",
    "山田\u3000太郎", "0000012345", "0000000123", "0001 みずほ銀行", "001 本店", "普通", "1234567",
    "ﾔﾏﾀﾞ ﾀﾛｳ",
]


def write_csv(path: Path, rows, encoding="cp932", newline="\r\n", bom=False) -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator=newline).writerows(rows)
    data = buf.getvalue().encode(encoding)
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + data)
    return path


def kurume(tmp_path: Path, n: int = 3, *, encoding="cp932", bom=False, name="in.csv", edit=None) -> Path:
    rows = [list(KURUME)] + [list(ROW) for _ in range(n)]
    for i, row in enumerate(rows[1:]):
        row[7] = f"{i:010d}"
    if edit:
        edit(rows)
    return write_csv(tmp_path / name, rows, encoding=encoding, bom=bom)


def assert_located(err: RecordFileError, path: Path, *, row=None, column=None):
    """Names the file, row and column; Japanese first, then English; a GatewayError."""
    assert isinstance(err, GatewayError)
    assert err.file == str(path)
    assert err.row == row
    assert err.column == column
    ja, en = str(err).split("\n")
    assert path.name in ja and path.name in en
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", ja)
    if row is not None:
        assert f"{row}行目" in ja and f"row {row}" in en
    if column is not None:
        assert f"「{column}」" in ja and f"column {column}" in en


def assert_no_output(tmp_path: Path, out: Path):
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(f".{out.name}")]


# --- encodings -------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding, bom, expected", [
    ("utf-8", False, "utf-8"), ("utf-8", True, "utf-8-sig"), ("cp932", False, "cp932"),
])
def test_each_encoding_is_detected_counted_and_hashed(tmp_path, encoding, bom, expected):
    path = kurume(tmp_path, 5, encoding=encoding, bom=bom)
    m = scan(path)
    assert m.encoding == expected
    assert m.record_count == 5
    assert m.columns == tuple(field_for_header(h) for h in KURUME)
    assert m.source_headers == tuple(KURUME)
    data = path.read_bytes()
    assert m.sha256 == hashlib.sha256(data).hexdigest()
    assert m.size_bytes == len(data)
    assert m.source_name == "in.csv"
    assert read_header(path).encoding == expected


def test_explicit_encoding_overrides_detection(tmp_path):
    path = kurume(tmp_path, 2, encoding="cp932")
    with pytest.raises(RecordFileError) as err:
        scan(path, encoding="utf-8")
    assert err.value.row == 1  # the Japanese header is not UTF-8
    assert scan(path, encoding="shift_jis").encoding == "cp932"


def test_cp932_detected_beyond_an_ascii_start(tmp_path):
    # Japanese text only after the first 64 KiB would need the streaming decoder; the header is Japanese anyway.
    path = kurume(tmp_path, 2000, encoding="cp932")
    assert scan(path).record_count == 2000


def test_gaiji_in_utf8_names_are_accepted(tmp_path):
    def edit(rows):
        rows[1][0] = "\U00020bb7田\u3000太郎"  # 𠮷: outside JIS X 0208
        rows[2][0] = "髙橋\u3000花子"
    path = kurume(tmp_path, 2, encoding="utf-8", edit=edit)
    names = [r["name"] for r in iter_records(path)]
    assert names == ["\U00020bb7田\u3000太郎", "髙橋\u3000花子"]


def test_lf_files_and_trailing_blank_lines(tmp_path):
    rows = [KURUME, ROW, ROW]
    path = write_csv(tmp_path / "lf.csv", rows, newline="\n")
    path.write_bytes(path.read_bytes() + b"\n\n")
    assert scan(path).record_count == 2


# --- headers ---------------------------------------------------------------------------------

def test_header_aliases_map_to_canonical_ids(tmp_path):
    headers = ["漢字氏名", "フリガナ", " 生年月日 ", "世帯主漢字氏名", "宛名番号", "世帯番号", "住民コード",
               "支店名", "預金種目", "口座名義人", "漢字方書", "除外区分"]
    path = write_csv(tmp_path / "a.csv", [headers])
    h = read_header(path)
    assert h.columns == ("name", "name_kana", "birth_date", "head_of_household", "addressee_code",
                         "household_code", "resident_number", "branch_name", "account_type",
                         "account_holder", "address_extra", "exclusion")
    assert h.source_headers[2] == "生年月日"


@pytest.mark.parametrize("header, field", [
    ("氏名（漢字）", "name"), ("氏名(漢字)", "name"), ("氏名（カナ）", "name_kana"), ("ｶﾅ氏名", "name_kana"),
    ("本・支店名", "branch_name"), ("本･支店名", "branch_name"), ("氏\u3000名", "name"), ("世帯主氏名", "head_of_household"),
])
def test_headers_match_after_nfkc_and_without_spaces(header, field):
    assert field_for_header(header) == field


def test_every_canonical_field_has_a_rule_and_a_header():
    for f in CANONICAL_FIELDS:
        assert f in RULES


# --- bad files -------------------------------------------------------------------------------

def _fails(path: Path, tmp_path: Path, **kwargs) -> RecordFileError:
    """scan and minimise refuse alike, and minimise leaves nothing behind."""
    with pytest.raises(RecordFileError) as scanned:
        scan(path, **kwargs)
    out = tmp_path / "out.csv"
    with pytest.raises(RecordFileError) as minimised:
        minimise(path, out, fields=["name"], **kwargs)
    assert str(minimised.value) == str(scanned.value)
    assert_no_output(tmp_path, out)
    return scanned.value


def test_binary_file(tmp_path):
    path = tmp_path / "scan.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 10)
    err = _fails(path, tmp_path)
    assert_located(err, path)
    assert "CSV" in err.ja and "not a CSV" in err.en


def test_binary_garbage_without_nul(tmp_path):
    path = tmp_path / "garbage.csv"
    path.write_bytes(bytes(range(0x80, 0x100)) * 300)
    err = _fails(path, tmp_path)
    assert_located(err, path)


def test_text_that_is_not_a_recipient_csv(tmp_path):
    path = tmp_path / "memo.csv"
    path.write_text("山田太郎,1975-01-01,男\n", encoding="utf-8")  # no header row: data in row 1
    err = _fails(path, tmp_path)
    assert_located(err, path, row=1)
    assert "山田" not in str(err)


@pytest.mark.parametrize("content", [b"", b"\r\n\r\n", codecs.BOM_UTF8])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    err = _fails(path, tmp_path)
    assert_located(err, path)
    assert "空" in err.ja and "empty" in err.en


@pytest.mark.parametrize("rows_before", [3, 1500])  # inside the first 64 KiB, and beyond it
def test_undecodable_byte_names_its_row(tmp_path, rows_before):
    path = kurume(tmp_path, rows_before + 5, encoding="utf-8")
    lines = path.read_bytes().split(b"\r\n")
    bad_row = rows_before + 2
    lines[bad_row - 1] = lines[bad_row - 1].replace("太郎".encode(), b"\xff\xfe", 1)
    path.write_bytes(b"\r\n".join(lines))
    err = _fails(path, tmp_path)
    assert_located(err, path, row=bad_row)
    assert "UTF-8" in err.ja and "UTF-8" in err.en
    offset = path.read_bytes().index(b"\xff\xfe")
    assert f"offset {offset}" in err.en


def test_undecodable_byte_in_cp932(tmp_path):
    path = kurume(tmp_path, 4, encoding="cp932")
    lines = path.read_bytes().split(b"\r\n")
    lines[3] = lines[3].replace("太郎".encode("cp932"), b"\x82\xff", 1)  # a lead byte without a trail byte
    path.write_bytes(b"\r\n".join(lines))
    err = _fails(path, tmp_path)
    assert_located(err, path, row=4)
    assert "CP932" in err.en


def test_missing_required_column(tmp_path):
    path = kurume(tmp_path, 2)
    with pytest.raises(RecordFileError) as err:
        scan(path, required=["name", "name_kana"])
    assert_located(err.value, path, row=1, column="カナ氏名")
    assert err.value.field == "name_kana"
    with pytest.raises(RecordFileError):
        read_header(path, required=["resident_number"])
    out = tmp_path / "out.csv"
    with pytest.raises(RecordFileError) as err:
        minimise(path, out, fields=["name", "name_kana"])
    assert err.value.field == "name_kana"
    assert_no_output(tmp_path, out)


def test_duplicate_column(tmp_path):
    path = write_csv(tmp_path / "dup.csv", [["氏名", "生年月日", "漢字氏名"], ["a", "1975-01-01", "a"]])
    err = _fails(path, tmp_path)
    assert_located(err, path, row=1, column="漢字氏名")
    assert err.field == "name"


def test_unknown_column_is_named(tmp_path):
    path = write_csv(tmp_path / "extra.csv", [["氏名", "生年月日", "備考"], ["a", "1975-01-01", "x"]])
    err = _fails(path, tmp_path)
    assert_located(err, path, row=1, column="備考")
    assert err.kind == "unapproved-field"


def test_ragged_row(tmp_path):
    path = kurume(tmp_path, 4, edit=lambda rows: rows[3].append("余分"))
    err = _fails(path, tmp_path)
    assert_located(err, path, row=4)
    assert "15" in err.en and "14" in err.en


@pytest.mark.parametrize("col, value, header", [
    (1, "昭和64年1月8日", "生年月日"),
    (1, "1975-02-30", "生年月日"),
    (1, "", "生年月日"),
    (2, "不明", "性別"),
    (4, "830-00222", "郵便番号"),
    (5, "0942(30)9000", "電話番号"),
    (7, "A123", "宛名コード"),
    (9, "みずほ銀行", "金融機関名"),
    (10, "12 久留米支店", "本・支店名"),
    (11, "定期", "口座種別"),
    (12, "123456", "口座番号"),
    (13, "ヤマダ タロウ", "口座名義"),  # full-width: banks need half-width
    (0, "山田\x07太郎", "氏名"),
    (0, "", "氏名"),
])
def test_bad_value_names_row_and_column_not_value(tmp_path, col, value, header):
    def edit(rows):
        rows[3][col] = value
    path = kurume(tmp_path, 5, edit=edit)
    err = _fails(path, tmp_path)
    assert_located(err, path, row=4, column=header)
    if value:
        assert value not in str(err)


def test_bad_value_far_into_the_file_has_the_right_row(tmp_path):
    n = BLOCK_ROWS * 2 + 100

    def edit(rows):
        rows[n - 50][1] = "S50.02.30"
    path = kurume(tmp_path, n, edit=edit)
    err = _fails(path, tmp_path)
    assert_located(err, path, row=n - 49, column="生年月日")


def test_blank_lines_keep_row_numbers(tmp_path):
    path = tmp_path / "blank.csv"
    path.write_text("氏名,生年月日\r\na,1975-01-01\r\n\r\nb,1975-13-01\r\n", encoding="utf-8")
    err = _fails(path, tmp_path)
    assert_located(err, path, row=4, column="生年月日")


def test_unknown_exclusion_label_is_an_error(tmp_path):
    path = write_csv(tmp_path / "x.csv", [["氏名", "除外区分"], ["a", ""], ["b", "要注意"]])
    err = _fails(path, tmp_path)
    assert_located(err, path, row=3, column="除外区分")


# --- values ----------------------------------------------------------------------------------

@pytest.mark.parametrize("value, normal", [
    ("8300022", "830-0022"), ("830-0022", "830-0022"), ("８３０－００２２", "830-0022"), (" 830-0022 ", "830-0022"),
])
def test_postal_code_forms(tmp_path, value, normal):
    path = write_csv(tmp_path / "p.csv", [["氏名", "郵便番号"], ["a", value]])
    assert [r["postal_code"] for r in iter_records(path)] == [normal]


def test_normalised_records(tmp_path):
    rows = [["住民番号", "カナ氏名", "漢字氏名", "続柄", "生年月日", "性別", "口座種別", "除外区分"],
            ["1", "ﾔﾏﾀﾞ ﾀﾛｳ", "山田", "世帯主", "S50.01.01", "1", "普通", "DV"],
            ["2", "ヤマダ　ハナコ", "山田", "妻", "昭和５０年１月２日", "女", "当座", ""]]
    path = write_csv(tmp_path / "n.csv", rows, encoding="utf-8")
    records = list(iter_records(path))
    assert records[0]["name_kana"] == "ヤマダ タロウ"
    assert records[0]["birth_date"] == "1975-01-01"
    assert records[0]["sex"] == "男"
    assert records[0]["exclusion"] == "dv-evacuee"
    assert records[1]["birth_date"] == "1975-01-02"
    assert records[1]["exclusion"] is None


def test_excluded_persons_are_counted_per_population(tmp_path):
    rows = [["氏名", "除外区分"], ["a", "DV等支援措置対象者"], ["b", "ＤＶ"], ["c", ""],
            ["d", "施設入所等児童"], ["e", "児童虐待等被害者"], ["f", "dv-evacuee"]]
    m = scan(write_csv(tmp_path / "e.csv", rows))
    assert m.record_count == 6
    assert m.excluded == {"dv-evacuee": 3, "child-in-care": 1, "abuse-victim": 1}
    assert "exclusion" in m.columns


# --- minimise --------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding, bom", [("cp932", False), ("utf-8", False), ("utf-8", True)])
def test_minimise_keeps_fields_in_order_under_source_headers(tmp_path, encoding, bom):
    def edit(rows):
        rows[0].append("除外区分")
        for i, row in enumerate(rows[1:]):
            row.append(["", "DV", "施設入所等児童", ""][i % 4])
    src = kurume(tmp_path, 8, encoding=encoding, bom=bom, edit=edit)
    out = tmp_path / "sub" / "out.csv"
    out.parent.mkdir()
    source, written = minimise(src, out, fields=["postal_code", "name", "address", "exclusion"],
                               remove={"dv-evacuee"})
    assert source == scan(src)
    assert source.excluded == {"dv-evacuee": 2, "child-in-care": 2}
    data = out.read_bytes()
    assert data.startswith(codecs.BOM_UTF8) == bom
    text = data.decode("utf-8-sig" if bom else encoding)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["郵便番号", "氏名", "住所"]  # the exclusion flag never leaves
    assert len(rows) == 1 + 6
    assert rows[1] == [ROW[4], ROW[0], ROW[3]]
    assert "\r\n" in text
    assert written.record_count == 6
    assert written.columns == ("postal_code", "name", "address")
    assert written.removed == {"excluded:dv-evacuee": 2}
    assert written.sha256 == hashlib.sha256(data).hexdigest()
    assert written.size_bytes == len(data)
    assert replace(written, removed={}) == scan(out)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.csv"]
    assert written.to_dict()["removed"] == {"excluded:dv-evacuee": 2}


def test_minimise_refuses_fields_not_in_the_file(tmp_path):
    src = kurume(tmp_path, 2)
    out = tmp_path / "out.csv"
    with pytest.raises(RecordFileError) as err:
        minimise(src, out, fields=["name", "resident_number"])
    assert err.value.field == "resident_number"
    assert_no_output(tmp_path, out)


def test_minimise_error_late_in_file_leaves_no_partial_output(tmp_path):
    n = BLOCK_ROWS * 3

    def edit(rows):
        rows[n][1] = "bad"
    src = kurume(tmp_path, n, edit=edit)
    out = tmp_path / "out.csv"
    out.write_bytes(b"previous")
    with pytest.raises(RecordFileError):
        minimise(src, out, fields=["name"])
    assert out.read_bytes() == b"previous"  # untouched
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.csv")]


# --- fast checks agree with the authoritative cell checks --------------------------------------

_ALPHABET = ("0123456789-/. 　()（）,ｱｶﾞﾟｰﾔﾏﾀﾞｬァアガヴーヽ・山田男女普通当座貯蓄銀行支店年月日昭和平成元"
             "SHRMT\u00a0\u3000\u2002¨ＤＶDV等支援措置対象者児童虐待被害施設入所\x07")


@settings(max_examples=300)
@given(st.sampled_from(sorted(RULES)), st.text(alphabet=_ALPHABET, min_size=1, max_size=16))
def test_fast_pattern_implies_cell_check(field, text):
    rule = RULES[field]
    if re.fullmatch(rule.fast, text):
        rule.check_cell(text)  # must not raise


# --- the line-at-a-time scan and csv.reader agree ------------------------------------------------

def _both(path: Path, tmp_path: Path):
    """scan() (line regex) and minimise() (csv.reader) describe the source alike."""
    source, _ = minimise(path, tmp_path / "min.csv", fields=["name"])
    assert scan(path) == source
    return source


def test_quoted_cells_late_in_a_large_file(tmp_path):
    n = 6000  # several scan chunks

    def edit(rows):
        rows[4000][3] = "福岡県久留米市城南町15番地3, 久留米ハイツ"  # needs quotes
        rows[4001][0] = '山田"太郎'
    path = kurume(tmp_path, n, edit=edit)
    assert b'"' in path.read_bytes()
    assert _both(path, tmp_path).record_count == n


def test_every_cell_quoted(tmp_path):
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    w.writerow(KURUME)
    w.writerows([ROW] * 10)
    path = tmp_path / "q.csv"
    path.write_bytes(buf.getvalue().encode("cp932"))
    assert _both(path, tmp_path).record_count == 10


def test_line_break_inside_a_quoted_cell_is_refused(tmp_path):
    def edit(rows):
        rows[3][3] = "福岡県久留米市\n城南町"
    path = kurume(tmp_path, 5, edit=edit)
    err = _fails(path, tmp_path)
    assert_located(err, path, row=4, column="住所")


def test_no_line_break_after_the_last_row(tmp_path):
    path = kurume(tmp_path, 3000)
    path.write_bytes(path.read_bytes().rstrip(b"\r\n"))
    assert _both(path, tmp_path).record_count == 3000


def test_rows_off_the_fast_path_are_still_counted(tmp_path):
    dates = ["平成元年1月8日", "H1.01.08", "2000-02-29", "１９７５－０１－０１", "昭和 50年 1月 1日", "S50.1.1"]

    def edit(rows):
        for i, row in enumerate(rows[1:]):
            row[1] = dates[i % len(dates)] if i % 7 == 0 else row[1]
            row[4] = "８３０００２２" if i % 11 == 0 else row[4]
    path = kurume(tmp_path, 5000, edit=edit, encoding="utf-8")
    assert _both(path, tmp_path).record_count == 5000


def test_single_column_file_with_empty_cells(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("電話番号\r\n0942-30-9000\r\n\"\"\r\n0942-30-9001\r\n", encoding="utf-8")
    minimise(path, tmp_path / "m.csv", fields=["phone"])
    assert scan(path).record_count == 3


# --- minimise keeping every column: the rows go out as the line scanner read them ----------------

def _csv_round_trip(path: Path, encoding: str, newline: str) -> bytes:
    """What minimise writes by definition: csv.reader's rows (blank lines skipped, the header
    stripped) written back by csv.writer with the file's line terminator."""
    text = path.read_bytes().decode(encoding)
    rows = [row for row in csv.reader(io.StringIO(text, newline="")) if row]
    rows[0] = [cell.strip().lstrip("\ufeff") for cell in rows[0]]
    buf = io.StringIO()
    csv.writer(buf, lineterminator=newline).writerows(rows)
    return buf.getvalue().encode(encoding)


def _big_kurume(tmp_path: Path, encoding="cp932", bom=False, edit=None) -> Path:
    # Well over _CHUNK_CHARS, so that chunks end mid-line and mid-"\r\n".
    return kurume(tmp_path, 6000, encoding=encoding, bom=bom, edit=edit)


def _odd_but_valid_dates(rows):
    for i in range(1, len(rows), 7):
        rows[i][1] = "1975/1/1"  # valid, but not what the line scanner's regex takes: checked per cell


def _quote_late(rows):
    rows[4500][3] = "福岡県久留米市城南町15番地3, 2階"  # csv.writer quotes it: the rest goes by csv


@pytest.mark.parametrize("edit", [None, _odd_but_valid_dates, _quote_late], ids=["plain", "per-cell", "quote"])
@pytest.mark.parametrize("encoding, bom", [("cp932", False), ("utf-8", True)])
def test_minimise_of_every_column_writes_what_csv_writer_would(tmp_path, edit, encoding, bom):
    path = _big_kurume(tmp_path, encoding, bom, edit)
    out = tmp_path / "out.csv"
    source, written = minimise(path, out, fields=read_header(path).columns)
    codec = "utf-8-sig" if bom else encoding
    assert out.read_bytes() == _csv_round_trip(path, codec, "\r\n")
    assert source.record_count == written.record_count == 6000
    assert written.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    assert scan(path).record_count == 6000


def _formulas_here_and_there(rows):
    _odd_but_valid_dates(rows)  # lines the line regex leaves out for other reasons than formulas
    text_columns = itertools.cycle([0, 3, 6, 3, 0])  # 氏名, 住所, 世帯主名: cells that take any text
    for i, cell in zip(range(1, len(rows), 997), ["=1+1", "-A1", "＠x", "+81 942", "-100", "+5"], strict=False):
        rows[i][next(text_columns)] = cell


@pytest.mark.parametrize("edit", [_formulas_here_and_there, _odd_but_valid_dates], ids=["formulas", "none"])
def test_neutralising_minimise_of_every_column_changes_the_formula_cells_only(tmp_path, edit):
    path = _big_kurume(tmp_path, edit=edit)
    out = tmp_path / "out.csv"
    _, written = minimise(path, out, fields=read_header(path).columns, neutralise_formulas=True)
    rows = [row for row in csv.reader(io.StringIO(path.read_bytes().decode("cp932"), newline="")) if row]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows([rows[0], *([neutralise(c) for c in r] for r in rows[1:])])
    assert out.read_bytes() == buf.getvalue().encode("cp932")
    assert sum(written.neutralised.values()) == (4 if edit is _formulas_here_and_there else 0)


def test_minimise_of_every_column_normalises_irregular_lines(tmp_path):
    path = _big_kurume(tmp_path)
    data = path.read_bytes()
    lines = data.split(b"\r\n")
    lines[3000] = lines[3000] + b"\r\n"  # a blank line
    lines[4000] = lines[4000] + b"\n" + lines[4001]  # a bare LF in a CRLF file
    del lines[4001]
    irregular = b"\r\n".join(lines).rstrip(b"\r\n")  # and no line break after the last row
    path.write_bytes(irregular)
    out = tmp_path / "out.csv"
    _, written = minimise(path, out, fields=read_header(path).columns)
    assert out.read_bytes() == _csv_round_trip(path, "cp932", "\r\n")
    assert written.record_count == 6000


@pytest.mark.parametrize("edit", [None, _quote_late], ids=["quote-free", "after-a-quote"])
def test_minimise_of_every_column_names_the_row_scan_names(tmp_path, edit):
    def bad(rows):
        if edit:
            edit(rows)
        rows[5000][1] = "2099-13-45"

    path = _big_kurume(tmp_path, edit=bad)
    out = tmp_path / "out.csv"
    with pytest.raises(RecordFileError) as minimised:
        minimise(path, out, fields=read_header(path).columns)
    with pytest.raises(RecordFileError) as scanned:
        scan(path)
    assert minimised.value.row == scanned.value.row == 5001
    assert_no_output(tmp_path, out)


# --- count_stream: the receipt's count, the rows without their cells checked again --------------

def _count(data: bytes) -> int:
    from gateway.core.records.rowcount import count_stream
    from gateway.core.records.streams import HashingReader

    stream = HashingReader(io.BytesIO(data))
    count = count_stream(stream, "in.csv")
    stream.drain()
    assert stream.size == len(data)
    return count


@pytest.mark.parametrize("edit", [None, _odd_but_valid_dates, _quote_late], ids=["plain", "per-cell", "quote"])
@pytest.mark.parametrize("encoding, bom", [("cp932", False), ("utf-8", True)])
def test_count_stream_counts_what_scan_counts(tmp_path, edit, encoding, bom):
    path = _big_kurume(tmp_path, encoding, bom, edit)
    assert _count(path.read_bytes()) == scan(path).record_count == 6000


@pytest.mark.parametrize("change", ["blank lines", "bare LF in CRLF", "stray CR", "LF only", "no final break",
                                    "quoted line break", "blank at a chunk's start"])
def test_count_stream_counts_rows_as_csv_reader_does(tmp_path, change):
    lines = _big_kurume(tmp_path).read_bytes().split(b"\r\n")
    header, rows = lines[0], [line for line in lines[1:] if line]
    sep = b"\r\n"
    if change == "blank lines":
        rows[10:10] = [b"", b""]
        rows[5000:5000] = [b""]
    elif change == "bare LF in CRLF":
        rows[3000] = rows[3000] + b"\n" + rows[3001]
        del rows[3001]
    elif change == "stray CR":
        rows[4000] = rows[4000].replace(b",", b"\r", 1)  # csv.reader: a line break, two rows
    elif change == "LF only":
        sep = b"\n"
    elif change == "quoted line break":
        cells = rows[2000].split(b",")
        cells[3] = b'"' + cells[3] + b'\r\n2F"'
        rows[2000] = b",".join(cells)
    elif change == "blank at a chunk's start":
        rows[1800:1800] = [b""] * 3
    data = sep.join([header, *rows]) + (b"" if change == "no final break" else sep)
    text = data.decode("cp932")
    expected = sum(1 for row in csv.reader(io.StringIO(text, newline="")) if row) - 1
    assert _count(data) == expected


def test_count_stream_counts_a_row_whose_cells_would_not_validate(tmp_path):
    def bad(rows):
        rows[5000][1] = "2099-13-45"

    path = _big_kurume(tmp_path, edit=bad)
    assert _count(path.read_bytes()) == 6000  # the receipt counts it; only the sender validates cells


@pytest.mark.parametrize("data", [b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", b"PK\x03\x04\x14\x00\x00\x00",
                                  "名前,好きな色\n山田,青\n".encode()])
def test_count_stream_refuses_what_is_not_a_recipient_file(data):
    with pytest.raises(RecordFileError):
        _count(data)


@pytest.mark.parametrize("control", ["\r", "\n", "\t", "\x00", "\x1f", "\x7f"])
def test_no_fast_cell_pattern_takes_a_control_character(control):
    # minimise's copy of a whole chunk counts carriage returns to know every line ends in the
    # file's terminator (_Copy.lines): that holds only while no cell's fast pattern takes one.
    for column, cell in zip(KURUME, ROW, strict=True):
        rule = RULES[field_for_header(column)]
        assert re.fullmatch(f"(?:{rule.fast})", cell), (column, cell)  # the sample is one it takes
        for at in {0, len(cell) // 2, len(cell)}:
            assert not re.fullmatch(f"(?:{rule.fast})", cell[:at] + control + cell[at:]), (column, repr(control))
