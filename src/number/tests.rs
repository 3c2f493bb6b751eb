//! Tests of `number`.
use super::*;
use Invalid::*;

const N: &str = "13800138000";

/// Input, then `Ok(digits)` or the expected `Invalid`.
const CASES: &[(&str, Result<&str, Invalid>)] = &[
    // Clean, and the fast path's edges.
    ("13800138000", Ok(N)),
    ("19912345678", Ok("19912345678")),
    ("13000000000", Ok("13000000000")),
    // Spacing and punctuation.
    ("138 0013 8000", Ok(N)),
    ("138-0013-8000", Ok(N)),
    ("(138) 0013.8000", Ok(N)),
    ("138.0013.8000", Ok(N)),
    ("\t13800138000\t", Ok(N)),
    ("  13800138000  ", Ok(N)),
    // Full-width, non-breaking and zero-width.
    ("１３８００１３８０００", Ok(N)),
    ("138\u{3000}0013\u{3000}8000", Ok(N)),
    ("\u{3000}13800138000\u{3000}", Ok(N)),
    ("\u{A0}138\u{A0}0013\u{A0}8000\u{A0}", Ok(N)),
    ("\u{200B}13800138000", Ok(N)),
    ("138\u{200B}0013\u{200B}8000", Ok(N)),
    ("\u{FEFF}13800138000", Ok(N)),
    ("（１３８）－００１３－８０００", Ok(N)),
    // Country prefixes.
    ("+8613800138000", Ok(N)),
    ("+86 13800138000", Ok(N)),
    ("+86 138-0013-8000", Ok(N)),
    ("(+86)13800138000", Ok(N)),
    ("(+86) 138 0013 8000", Ok(N)),
    ("＋８６ １３８００１３８０００", Ok(N)),
    ("0086 13800138000", Ok(N)),
    ("008613800138000", Ok(N)),
    ("0086-138-0013-8000", Ok(N)),
    ("8613800138000", Ok(N)),
    ("86 138 0013 8000", Ok(N)),
    ("86-13800138000", Ok(N)),
    // Spreadsheet wrappings.
    ("=\"13800138000\"", Ok(N)),
    ("=\"+86 138 0013 8000\"", Ok(N)),
    ("'13800138000", Ok(N)),
    (" '138 0013 8000 ", Ok(N)),
    ("13800138000.0", Ok(N)),
    ("13800138000.00", Ok(N)),
    ("8613800138000.0", Ok(N)),
    ("139.1234.0000", Ok("13912340000")),
    // Excel lost digits.
    ("1.38001E+10", Err(ScientificNotation)),
    ("1.38001e10", Err(ScientificNotation)),
    ("1.3800138E10", Err(ScientificNotation)),
    ("1.38001E+10 ", Err(ScientificNotation)),
    ("1E+10", Err(ScientificNotation)),
    ("=\"1.38001E+10\"", Err(ScientificNotation)),
    // Empty.
    ("", Err(Empty)),
    ("   ", Err(Empty)),
    ("\u{3000}\u{A0}\t", Err(Empty)),
    ("-", Err(Empty)),
    ("=\"\"", Err(Empty)),
    // Letters.
    ("abc", Err(Letters('a'))),
    ("N/A", Err(Letters('N'))),
    ("1380013800O", Err(Letters('O'))),
    ("tel:13800138000", Err(Letters('t'))),
    ("13800138000/", Err(Letters('/'))),
    ("138+00138000", Err(Letters('+'))),
    ("1.38001E+1x", Err(Letters('E'))),
    ("13800138000.5", Err(TooLong(12))),
    // Too short.
    ("10086", Err(TooShort(5))),
    ("1", Err(TooShort(1))),
    ("1380013800", Err(TooShort(10))),
    ("+86 1380013800", Err(TooShort(10))),
    ("1391234.0000", Err(TooShort(7))),
    // Too long.
    ("138001380001", Err(TooLong(12))),
    ("861380013800", Err(TooLong(12))),
    ("86138001380000", Err(TooLong(14))),
    ("1380013800013900139000", Err(TooLong(22))),
    // Bad prefix.
    ("12800138000", Err(BadPrefix)),
    ("23800138000", Err(BadPrefix)),
    ("00000000000", Err(BadPrefix)),
    ("8612800138000", Err(BadPrefix)),
    ("+1 415 555 1234", Err(BadPrefix)),
    ("+44 7911 123456", Err(BadPrefix)),
    // Several numbers.
    ("13800138000/13900139000", Err(SeveralNumbers(2))),
    ("13800138000;13900139000", Err(SeveralNumbers(2))),
    ("13800138000,13900139000", Err(SeveralNumbers(2))),
    ("13800138000 13900139000", Err(SeveralNumbers(2))),
    ("138-0013-8000 139-0013-9000", Err(SeveralNumbers(2))),
    ("+8613800138000、+8613900139000", Err(SeveralNumbers(2))),
    (
        "13800138000 / 13900139000 / 15000150000",
        Err(SeveralNumbers(3)),
    ),
    ("13800138000\n13900139000", Err(SeveralNumbers(2))),
    // Landlines (issue 14): an area code with its 0, then 7 or 8 digits.
    ("0755-81814124", Err(Landline)),
    ("021-12345678", Err(Landline)),
    ("010 1234 5678", Err(Landline)),
    ("01012345678", Err(Landline)),
    ("(0755) 8181-4124", Err(Landline)),
    ("0571-8888888", Err(Landline)),
    ("029-8888888", Err(Landline)),
    ("０２１－１２３４５６７８", Err(Landline)),
    ("+86 755 8181 4124", Err(Landline)),
    ("+86 10 1234 5678", Err(Landline)),
    ("+86-21-12345678", Err(Landline)),
    // Not landlines: a 0 dialled before a mobile, too few or many digits.
    ("013800138000", Err(TooLong(12))),
    ("01380013800", Err(BadPrefix)),
    ("0755-818141", Err(TooShort(10))),
    ("0755-818141245", Err(TooLong(13))),
    ("+86 1380013800", Err(TooShort(10))),
    ("0086 755 81814124", Err(BadPrefix)),
];

#[test]
fn table() {
    for (raw, want) in CASES {
        let got = parse(raw);
        let got = got.as_ref().map(Number::as_str).map_err(Clone::clone);
        assert_eq!(got, want.clone(), "parse({raw:?})");
    }
}

#[test]
fn every_variant_is_in_the_table() {
    for code in CODES {
        assert!(
            CASES
                .iter()
                .any(|(_, want)| want.as_ref().is_err_and(|e| e.code() == code)),
            "no case for {code}"
        );
    }
}

const CODES: [&str; 8] = [
    "empty",
    "letters",
    "too_short",
    "too_long",
    "bad_prefix",
    "scientific_notation",
    "several_numbers",
    "landline",
];

fn one_of_each() -> [Invalid; 8] {
    [
        Empty,
        Letters('x'),
        TooShort(5),
        TooLong(12),
        BadPrefix,
        ScientificNotation,
        SeveralNumbers(2),
        Landline,
    ]
}

#[test]
fn reasons_and_codes_are_distinct() {
    let all = one_of_each();
    let codes: Vec<_> = all.iter().map(Invalid::code).collect();
    assert_eq!(codes, CODES);
    let reasons: Vec<_> = all.iter().map(ToString::to_string).collect();
    for (i, a) in reasons.iter().enumerate() {
        assert!(!a.is_empty());
        assert!(reasons[i + 1..].iter().all(|b| a != b), "{a}");
    }
}

#[test]
fn reasons_carry_no_number() {
    for (raw, want) in CASES {
        let Err(invalid) = parse(raw) else { continue };
        let reason = invalid.to_string();
        let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
        assert!(!reason.contains(N), "{reason}");
        if digits.len() >= 5 {
            assert!(!reason.contains(&digits), "{raw:?}: {reason}");
        }
        if raw.trim().len() >= 5 {
            assert!(!reason.contains(raw.trim()), "{raw:?}: {reason}");
        }
        assert_eq!(Err(&invalid), want.as_ref());
    }
}

#[test]
fn reasons_read_well() {
    assert_eq!(
        TooShort(1).to_string(),
        "too short: 1 digit where a mobile number has 11"
    );
    assert!(TooShort(10).to_string().contains("10 digits"));
    assert!(TooLong(12).to_string().contains("12 digits"));
    assert!(ScientificNotation.to_string().contains("as text"));
    assert!(Letters('x').to_string().contains("'x'"));
    assert!(
        Landline
            .to_string()
            .starts_with("a landline (fixed-line) number, not a mobile")
    );
}

#[test]
fn debug_masks_the_number() {
    let number = parse(N).unwrap();
    let debug = format!("{number:?}");
    assert!(!debug.contains(N), "{debug}");
    assert_eq!(debug, "Number(138****8000)");
    assert_eq!(number.masked(), "138****8000");
}

#[test]
fn masks() {
    assert_eq!(mask(N), "138****8000");
    assert_eq!(mask(""), "");
    assert_eq!(mask("10086"), "*****");
    assert_eq!(mask("1234567"), "*******");
    assert_eq!(mask("12345678"), "123*5678");
    assert_eq!(mask("+8613800138000"), "+86*******8000");
    assert_eq!(mask("１３８００１３８０００"), "１３８****８０００");
    assert_eq!(mask("张三 138"), "******");
}

#[test]
fn long_cells_do_not_panic() {
    assert_eq!(parse(&"1".repeat(100)), Err(TooLong(100)));
    let eight = [N; 8].join(" ");
    assert_eq!(parse(&eight), Err(TooLong(88)));
    let five = [N; 5].join("/");
    assert_eq!(parse(&five), Err(SeveralNumbers(5)));
    let six_prefixed = ["+86 13800138000"; 6].join(",");
    // Past `CAP` digits the split is not tried; the comma still tells.
    assert_eq!(parse(&six_prefixed), Err(Letters(',')));
    assert_eq!(parse(&"x".repeat(1000)), Err(Letters('x')));
}

#[test]
fn fast_and_slow_paths_agree() {
    // Every 11-digit cell the fast path takes must get the same answer
    // from the scan (reached here through a wrapping space).
    for raw in ["13800138000", "12800138000", "86138001380", "19999999999"] {
        assert_eq!(parse(raw), parse(&format!(" {raw} ")), "{raw}");
    }
}

#[test]
fn a_number_as_an_integer_is_its_digits() {
    let number = parse("13800138000").expect("a valid number");
    assert_eq!(number.to_u64(), 13_800_138_000);
    let number = parse("19912345678").expect("a valid number");
    assert_eq!(number.to_u64(), 19_912_345_678);
}
