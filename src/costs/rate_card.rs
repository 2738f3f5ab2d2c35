//! A rate card: per market, a currency and a rate per category, read from
//! the CSV an admin uploads (Meta publishes one). Rates are integer
//! millionths of the currency unit ("micros"): money is never a float.
//!
//! The file is parsed whole before anything is stored, so a bad file gets
//! an error naming its line and never replaces the card already kept.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Largest file accepted.
pub const MAX_BYTES: usize = 256 * 1024;
/// More markets than any rate card has.
const MAX_MARKETS: usize = 500;
/// Micros per currency unit.
pub const MICROS: i64 = 1_000_000;

/// One market's rates; `None` where the card gives none (Meta leaves
/// authentication-international empty for most markets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rates {
    /// The market as the card names it.
    pub market: String,
    pub currency: String,
    pub marketing: Option<i64>,
    pub utility: Option<i64>,
    pub authentication: Option<i64>,
    pub authentication_international: Option<i64>,
    pub service: Option<i64>,
}

impl Rates {
    /// The rate of a pricing category (Meta's `pricing.category`); none
    /// for categories a card has no column for (`referral_conversion` is
    /// never charged; `marketing_lite` and newer ones are not on the card).
    pub fn of(&self, category: &str) -> Option<i64> {
        match category {
            "marketing" => self.marketing,
            "utility" => self.utility,
            "authentication" => self.authentication,
            "authentication_international" => self.authentication_international,
            "service" => self.service,
            _ => None,
        }
    }
}

/// A parsed card, keyed by the market's name folded for matching.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RateCard {
    pub markets: BTreeMap<String, Rates>,
}

impl RateCard {
    pub fn rates_of(&self, market: &str) -> Option<&Rates> {
        self.markets.get(&fold(market))
    }
}

/// Why a file is not a rate card: the line (1-based) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Line {line}: {message}")]
pub struct CardError {
    pub line: usize,
    pub message: String,
}

fn error(line: usize, message: impl Into<String>) -> CardError {
    CardError {
        line,
        message: message.into(),
    }
}

/// A market or column name folded for matching: case, spaces, `-` and `_`
/// do not matter.
fn fold(name: &str) -> String {
    name.split(|c: char| c.is_whitespace() || c == '-' || c == '_')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Column {
    Market,
    Currency,
    Marketing,
    Utility,
    Authentication,
    AuthenticationInternational,
    Service,
}

fn column(name: &str) -> Option<Column> {
    Some(match fold(name).as_str() {
        "market" => Column::Market,
        "currency" => Column::Currency,
        "marketing" => Column::Marketing,
        "utility" => Column::Utility,
        "authentication" => Column::Authentication,
        "authentication international" => Column::AuthenticationInternational,
        "service" => Column::Service,
        _ => return None,
    })
}

/// Parses a rate card. The first non-blank line is the header: `Market`,
/// `Currency` and the categories (`Marketing`, `Utility`,
/// `Authentication`, `Authentication-International`, `Service`; any order,
/// other columns ignored). Each further line is a market; a rate is a
/// decimal with at most six places (`0.0250`), or empty, `n/a` or `-` when
/// the market has none.
pub fn parse(text: &str) -> Result<RateCard, CardError> {
    if text.len() > MAX_BYTES {
        return Err(error(
            0,
            format!("the file is larger than {} KB", MAX_BYTES / 1024),
        ));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line))
        .filter(|(_, line)| !line.trim().is_empty());
    let (header_line, header) = lines.next().ok_or_else(|| error(1, "the file is empty"))?;
    let names = fields(header).map_err(|m| error(header_line, m))?;
    let columns: Vec<Option<Column>> = names.iter().map(|n| column(n)).collect();
    let position = |wanted: Column| columns.iter().position(|c| *c == Some(wanted));
    let (Some(market_at), Some(currency_at)) =
        (position(Column::Market), position(Column::Currency))
    else {
        return Err(error(
            header_line,
            "the header must name the columns Market and Currency, then the categories (Marketing, Utility, Authentication, Authentication-International, Service)",
        ));
    };
    let rate_columns = [
        Column::Marketing,
        Column::Utility,
        Column::Authentication,
        Column::AuthenticationInternational,
        Column::Service,
    ];
    if rate_columns.iter().all(|c| position(*c).is_none()) {
        return Err(error(header_line, "the header names no category column (Marketing, Utility, Authentication, Authentication-International, Service)"));
    }
    for wanted in rate_columns
        .iter()
        .chain([&Column::Market, &Column::Currency])
    {
        if columns.iter().filter(|c| **c == Some(*wanted)).count() > 1 {
            return Err(error(header_line, "the header names a column twice"));
        }
    }
    let mut card = RateCard::default();
    for (line, text) in lines {
        let values = fields(text).map_err(|m| error(line, m))?;
        if values.len() != names.len() {
            return Err(error(
                line,
                format!(
                    "{} fields where the header has {}",
                    values.len(),
                    names.len()
                ),
            ));
        }
        let market = values[market_at].trim();
        if market.is_empty() {
            return Err(error(line, "the market is empty"));
        }
        let currency = values[currency_at].trim().to_uppercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(error(
                line,
                format!(
                    "the currency {:?} is not a three-letter code (USD, EUR, INR...)",
                    values[currency_at].trim()
                ),
            ));
        }
        let rate = |wanted: Column, name: &str| -> Result<Option<i64>, CardError> {
            match position(wanted) {
                None => Ok(None),
                Some(at) => micros(&values[at]).map_err(|m| {
                    error(line, format!("the {name} rate {:?} {m}", values[at].trim()))
                }),
            }
        };
        let rates = Rates {
            market: market.to_string(),
            currency,
            marketing: rate(Column::Marketing, "marketing")?,
            utility: rate(Column::Utility, "utility")?,
            authentication: rate(Column::Authentication, "authentication")?,
            authentication_international: rate(
                Column::AuthenticationInternational,
                "authentication-international",
            )?,
            service: rate(Column::Service, "service")?,
        };
        if card.markets.insert(fold(market), rates).is_some() {
            return Err(error(
                line,
                format!("the market {market:?} is listed twice"),
            ));
        }
        if card.markets.len() > MAX_MARKETS {
            return Err(error(line, format!("more than {MAX_MARKETS} markets")));
        }
    }
    if card.markets.is_empty() {
        return Err(error(
            header_line + 1,
            "the file lists no market under its header",
        ));
    }
    Ok(card)
}

/// The fields of one CSV line (RFC 4180 quoting; a quoted field may hold
/// commas and doubled quotes, but not a line break).
fn fields(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                current.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => current.push(c),
            (false, '"') if current.trim().is_empty() && !was_quoted => {
                current.clear();
                quoted = true;
                was_quoted = true;
            }
            (false, '"') => return Err("a quote in the middle of a field".into()),
            (false, ',') => {
                fields.push(std::mem::take(&mut current));
                was_quoted = false;
            }
            (false, c) if was_quoted && !c.is_whitespace() => {
                return Err("text after a quoted field".into())
            }
            (false, c) => current.push(c),
        }
    }
    if quoted {
        return Err(
            "a quoted field is not closed (line breaks inside fields are not accepted)".into(),
        );
    }
    fields.push(current);
    Ok(fields)
}

/// A rate as micros: a non-negative decimal with at most six places;
/// `None` for empty, `n/a` or `-`.
fn micros(text: &str) -> Result<Option<i64>, &'static str> {
    let text = text.trim();
    if text.is_empty() || text == "-" || text.eq_ignore_ascii_case("n/a") {
        return Ok(None);
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return Err("is not a decimal number like 0.0250");
    }
    if fraction.len() > 6 {
        return Err("has more than six decimal places");
    }
    if whole.len() > 9 {
        return Err("is too large");
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| "is too large")?
    };
    let fraction: i64 = format!("{fraction:0<6}").parse().unwrap_or(0);
    Ok(Some(whole * MICROS + fraction))
}

/// Micros written as a decimal with as many places as it needs (at least
/// two): `25000` is `0.025`.
pub fn format_micros(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let micros = micros.unsigned_abs();
    let whole = micros / MICROS as u64;
    let fraction = format!("{:06}", micros % MICROS as u64);
    let fraction = fraction.trim_end_matches('0');
    format!("{sign}{whole}.{fraction:0<2}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARD: &str = "\u{feff}Market,Currency,Marketing,Utility,Authentication,Authentication-International,Service\r\n\
        North America,USD,0.0250,0.0040,0.0135,,0.0040\r\n\
        \"Rest of Central & Eastern Europe\",usd,0.0860,0.0212,0.0448,n/a,0.0212\r\n\
        India,INR,0.7846,0.1150,0.1150,2.3000,-\r\n";

    #[test]
    fn a_published_card_is_read_in_micros() {
        let card = parse(CARD).unwrap();
        assert_eq!(card.markets.len(), 3);
        let na = card.rates_of("north america").unwrap();
        assert_eq!(
            (
                na.currency.as_str(),
                na.marketing,
                na.utility,
                na.authentication_international
            ),
            ("USD", Some(25_000), Some(4_000), None)
        );
        let europe = card.rates_of("Rest of Central & Eastern Europe").unwrap();
        assert_eq!(
            (europe.currency.as_str(), europe.of("authentication")),
            ("USD", Some(44_800))
        );
        let india = card.rates_of("India").unwrap();
        assert_eq!(
            (
                india.of("marketing"),
                india.of("authentication_international"),
                india.of("service")
            ),
            (Some(784_600), Some(2_300_000), None)
        );
        assert_eq!(india.of("referral_conversion"), None);
        // Columns in another order, others ignored.
        let card = parse("Notes,Service,Market,Currency\nx,0.01,Brazil,BRL\n").unwrap();
        assert_eq!(card.rates_of("brazil").unwrap().service, Some(10_000));
    }

    #[test]
    fn a_bad_file_is_refused_with_its_line() {
        let bad = |text: &str| parse(text).unwrap_err().to_string();
        assert!(bad("").starts_with("Line 1: the file is empty"));
        assert!(
            bad("Country,Price\nIndia,1\n").starts_with("Line 1: the header must name"),
            "{}",
            bad("Country,Price\n")
        );
        assert!(
            bad("Market,Currency\nIndia,INR\n").starts_with("Line 1: the header names no category")
        );
        assert!(bad("Market,Currency,Marketing\n").starts_with("Line 2: the file lists no market"));
        let line3 = bad("Market,Currency,Marketing\nIndia,INR,0.78\n\nBrazil,BRL,0,1\n");
        assert_eq!(line3, "Line 4: 4 fields where the header has 3");
        assert_eq!(
            bad("Market,Currency,Marketing\nIndia,INR,0.78\nBrazil,BRL,$0.06\n"),
            "Line 3: the marketing rate \"$0.06\" is not a decimal number like 0.0250"
        );
        assert_eq!(
            bad("Market,Currency,Utility\nIndia,INR,0.1234567\n"),
            "Line 2: the utility rate \"0.1234567\" has more than six decimal places"
        );
        assert!(bad("Market,Currency,Utility\nIndia,INR,-1\n").contains("not a decimal"));
        assert!(
            bad("Market,Currency,Utility\nIndia,Rupees,1\n").starts_with("Line 2: the currency")
        );
        assert_eq!(
            bad("Market,Currency,Utility\nIndia,INR,1\n india ,INR,2\n"),
            "Line 3: the market \"india\" is listed twice"
        );
        assert!(bad("Market,Currency,Utility\n\"India,INR,1\n")
            .starts_with("Line 2: a quoted field is not closed"));
        assert!(bad("Market,Currency,Utility\nIn\"dia,INR,1\n")
            .starts_with("Line 2: a quote in the middle"));
    }

    #[test]
    fn micros_are_written_back_plainly() {
        assert_eq!(format_micros(25_000), "0.025");
        assert_eq!(format_micros(2_300_000), "2.30");
        assert_eq!(format_micros(0), "0.00");
        assert_eq!(format_micros(1), "0.000001");
        assert_eq!(micros("12"), Ok(Some(12_000_000)));
        assert_eq!(micros(".5"), Ok(Some(500_000)));
        assert_eq!(micros("."), Err("is not a decimal number like 0.0250"));
    }
}
