"""Import encodings (UTF-8 with/without BOM, GB18030, nothing guessed) and the name/address character rule."""

from __future__ import annotations

import pytest

from wattdesk.core.text import EncodingUndecided, decode_import, log_text, unsafe_text_reason

CSV = "customer_number,customer_name,address\nC1,张三,城关镇人民路1号\nC2,李四,工业园区3号\n"


class TestDecodeImport:
    def test_reads_utf8_without_bom(self) -> None:
        decoded = decode_import(CSV.encode("utf-8"), name="a.csv")
        assert (decoded.text, decoded.encoding) == (CSV, "utf-8")

    def test_reads_utf8_with_bom_and_drops_it(self) -> None:
        decoded = decode_import(b"\xef\xbb\xbf" + CSV.encode("utf-8"), name="a.csv")
        assert (decoded.text, decoded.encoding) == (CSV, "utf-8-sig")

    def test_reads_gb18030_as_excel_on_chinese_windows_writes_it(self) -> None:
        data = CSV.encode("gb18030")
        assert "张三".encode("gb18030") == b"\xd5\xc5\xc8\xfd"
        decoded = decode_import(data, name="a.csv")
        assert (decoded.text, decoded.encoding) == (CSV, "gb18030")

    def test_reads_gbk_bytes_the_same_way(self) -> None:
        assert decode_import(CSV.encode("gbk"), name="a.csv").text == CSV

    def test_four_byte_gb18030_characters_outside_gbk(self) -> None:
        text = "name\n𠮷野家\n"  # U+20BB7: a four-byte GB18030 sequence
        assert decode_import(text.encode("gb18030"), name="a.csv").text == text

    def test_pure_ascii_is_utf8(self) -> None:
        assert decode_import(b"a,b\n1,2\n", name="a.csv").encoding == "utf-8"

    def test_neither_encoding_is_refused_with_the_line(self) -> None:
        data = b"a,b\n1,2\n3,\xff\xff\n"  # 0xFF is neither UTF-8 nor a GB18030 lead byte
        with pytest.raises(EncodingUndecided) as err:
            decode_import(data, name="x.csv")
        assert err.value.line == 3
        assert "cannot tell the text encoding" in str(err.value)
        assert str(err.value).startswith("x.csv line 3: ")

    def test_bom_with_invalid_utf8_is_refused(self) -> None:
        with pytest.raises(EncodingUndecided) as err:
            decode_import(b"\xef\xbb\xbfa\n" + "张".encode("gb18030") + b"\n", name="x.csv")
        assert err.value.line == 2
        assert "byte-order mark" in err.value.reason

    def test_utf16_is_refused_with_advice(self) -> None:
        with pytest.raises(EncodingUndecided, match="UTF-16"):
            decode_import(CSV.encode("utf-16"), name="x.csv")

    def test_nul_is_refused(self) -> None:
        with pytest.raises(EncodingUndecided) as err:
            decode_import(b"a\nb\x00c\n", name="x.csv")
        assert err.value.line == 2
        assert "NUL" in err.value.reason

    def test_replacement_character_is_refused_unless_the_caller_checks_cells(self) -> None:
        data = "name\n张\ufffd\n".encode()
        with pytest.raises(EncodingUndecided) as err:
            decode_import(data, name="x.csv")
        assert err.value.line == 2
        assert decode_import(data, name="x.csv", allow_replacement=True).text == "name\n张\ufffd\n"

    def test_private_use_characters_mean_it_was_not_gb18030(self) -> None:
        data = b"x\n" + "\ue000".encode("gb18030") + b"\n"
        with pytest.raises(EncodingUndecided, match="private-use"):
            decode_import(data, name="x.csv")


class TestUnsafeTextReason:
    @pytest.mark.parametrize(
        "value", ["张三", "某某纺织有限公司", "城关镇 人民路 1-3 号", "O'Brien & Co.", ""]
    )
    def test_ordinary_names_and_addresses_pass(self, value: str) -> None:
        assert unsafe_text_reason(value) is None

    @pytest.mark.parametrize(
        ("value", "code"),
        [
            ("张\x00三", "U+0000"),
            ("张\x07三", "U+0007"),
            ("张三\n", "U+000A"),
            ("a\tb", "U+0009"),
            ("a\x7fb", "U+007F"),
            ("a\x85b", "U+0085"),
        ],
    )
    def test_control_characters_are_refused(self, value: str, code: str) -> None:
        assert unsafe_text_reason(value) == f"contains the control character {code}"

    @pytest.mark.parametrize(
        "ch",
        [
            "\u202a",
            "\u202b",
            "\u202c",
            "\u202d",
            "\u202e",
            "\u2066",
            "\u2067",
            "\u2068",
            "\u2069",
            "\u200e",
            "\u200f",
        ],
    )
    def test_bidi_controls_are_refused(self, ch: str) -> None:
        reason = unsafe_text_reason(f"张三{ch}abc")
        assert reason == f"contains the bidirectional control character U+{ord(ch):04X}"

    def test_replacement_character_is_refused(self) -> None:
        assert "U+FFFD" in (unsafe_text_reason("张\ufffd") or "")


class TestLogText:
    def test_keeps_utf8_and_escapes_everything_else(self) -> None:
        assert log_text('{"name": "张三"}'.encode()) == '{"name": "张三"}'
        assert log_text(b"a\x00b\xffc") == "a\\x00b\\xffc"
        assert log_text("x\ufffd".encode()) == "x\\ufffd"

    def test_never_holds_nul_or_replacement(self) -> None:
        every_byte = bytes(range(256)) * 2
        text = log_text(every_byte)
        assert "\x00" not in text and "\ufffd" not in text
