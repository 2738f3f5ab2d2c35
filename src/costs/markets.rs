//! Which of Meta's pricing markets a recipient's phone falls in: Meta
//! prices a message by the recipient's country calling code (reference
//! meta-2026 §4). A plain table, matched on the longest prefix of the
//! phone's digits; everything not in it is "Other".
//!
//! What is confirmed and what is not: the market names (the 24 standalone
//! markets, North America and the six "Rest of ..." regions, plus Other)
//! are those of Meta's rate list as copied by third parties (Meta's own
//! page was not reachable from here). Which countries make up each
//! "Rest of ..." region could not be confirmed from Meta's published list:
//! the regional rows below are our best reading of it and may be wrong at
//! the edges. Also unconfirmed: the split of NANP (+1) between North
//! America (US, Canada) and Caribbean countries sharing +1 (only the
//! Dominican Republic, Puerto Rico and Jamaica are listed here), Kazakhstan
//! sharing +7 with Russia, and which markets Meta moved to standalone rates
//! on 2026-10-01 (not modelled). An admin's rate card decides the prices;
//! this table only decides which of its rows a message uses.

/// A market as a rate card names it.
pub type Market = &'static str;

pub const OTHER: Market = "Other";

const NORTH_AMERICA: Market = "North America";
const REST_OF_AFRICA: Market = "Rest of Africa";
const REST_OF_ASIA_PACIFIC: Market = "Rest of Asia Pacific";
const REST_OF_CE_EUROPE: Market = "Rest of Central & Eastern Europe";
const REST_OF_LATIN_AMERICA: Market = "Rest of Latin America";
const REST_OF_MIDDLE_EAST: Market = "Rest of Middle East";
const REST_OF_WESTERN_EUROPE: Market = "Rest of Western Europe";

/// Calling code (or longer prefix) → market.
const TABLE: &[(&str, Market)] = &[
    // Standalone markets.
    ("54", "Argentina"),
    ("55", "Brazil"),
    ("56", "Chile"),
    ("57", "Colombia"),
    ("20", "Egypt"),
    ("33", "France"),
    ("49", "Germany"),
    ("91", "India"),
    ("62", "Indonesia"),
    ("972", "Israel"),
    ("39", "Italy"),
    ("60", "Malaysia"),
    ("52", "Mexico"),
    ("31", "Netherlands"),
    ("234", "Nigeria"),
    ("92", "Pakistan"),
    ("51", "Peru"),
    ("7", "Russia"),
    ("966", "Saudi Arabia"),
    ("27", "South Africa"),
    ("34", "Spain"),
    ("90", "Turkey"),
    ("971", "United Arab Emirates"),
    ("44", "United Kingdom"),
    ("1", NORTH_AMERICA),
    // Regions (membership unconfirmed, see above).
    ("1809", REST_OF_LATIN_AMERICA),
    ("1829", REST_OF_LATIN_AMERICA),
    ("1849", REST_OF_LATIN_AMERICA),
    ("1787", REST_OF_LATIN_AMERICA),
    ("1939", REST_OF_LATIN_AMERICA),
    ("1876", REST_OF_LATIN_AMERICA),
    ("591", REST_OF_LATIN_AMERICA),
    ("506", REST_OF_LATIN_AMERICA),
    ("593", REST_OF_LATIN_AMERICA),
    ("503", REST_OF_LATIN_AMERICA),
    ("502", REST_OF_LATIN_AMERICA),
    ("509", REST_OF_LATIN_AMERICA),
    ("504", REST_OF_LATIN_AMERICA),
    ("505", REST_OF_LATIN_AMERICA),
    ("507", REST_OF_LATIN_AMERICA),
    ("595", REST_OF_LATIN_AMERICA),
    ("598", REST_OF_LATIN_AMERICA),
    ("58", REST_OF_LATIN_AMERICA),
    ("213", REST_OF_AFRICA),
    ("244", REST_OF_AFRICA),
    ("229", REST_OF_AFRICA),
    ("267", REST_OF_AFRICA),
    ("226", REST_OF_AFRICA),
    ("257", REST_OF_AFRICA),
    ("237", REST_OF_AFRICA),
    ("235", REST_OF_AFRICA),
    ("242", REST_OF_AFRICA),
    ("243", REST_OF_AFRICA),
    ("291", REST_OF_AFRICA),
    ("251", REST_OF_AFRICA),
    ("241", REST_OF_AFRICA),
    ("220", REST_OF_AFRICA),
    ("233", REST_OF_AFRICA),
    ("245", REST_OF_AFRICA),
    ("225", REST_OF_AFRICA),
    ("254", REST_OF_AFRICA),
    ("266", REST_OF_AFRICA),
    ("231", REST_OF_AFRICA),
    ("218", REST_OF_AFRICA),
    ("261", REST_OF_AFRICA),
    ("265", REST_OF_AFRICA),
    ("223", REST_OF_AFRICA),
    ("222", REST_OF_AFRICA),
    ("212", REST_OF_AFRICA),
    ("258", REST_OF_AFRICA),
    ("264", REST_OF_AFRICA),
    ("227", REST_OF_AFRICA),
    ("250", REST_OF_AFRICA),
    ("221", REST_OF_AFRICA),
    ("232", REST_OF_AFRICA),
    ("252", REST_OF_AFRICA),
    ("211", REST_OF_AFRICA),
    ("249", REST_OF_AFRICA),
    ("268", REST_OF_AFRICA),
    ("255", REST_OF_AFRICA),
    ("228", REST_OF_AFRICA),
    ("216", REST_OF_AFRICA),
    ("256", REST_OF_AFRICA),
    ("260", REST_OF_AFRICA),
    ("93", REST_OF_ASIA_PACIFIC),
    ("61", REST_OF_ASIA_PACIFIC),
    ("880", REST_OF_ASIA_PACIFIC),
    ("855", REST_OF_ASIA_PACIFIC),
    ("86", REST_OF_ASIA_PACIFIC),
    ("852", REST_OF_ASIA_PACIFIC),
    ("81", REST_OF_ASIA_PACIFIC),
    ("856", REST_OF_ASIA_PACIFIC),
    ("976", REST_OF_ASIA_PACIFIC),
    ("977", REST_OF_ASIA_PACIFIC),
    ("64", REST_OF_ASIA_PACIFIC),
    ("675", REST_OF_ASIA_PACIFIC),
    ("63", REST_OF_ASIA_PACIFIC),
    ("65", REST_OF_ASIA_PACIFIC),
    ("94", REST_OF_ASIA_PACIFIC),
    ("886", REST_OF_ASIA_PACIFIC),
    ("992", REST_OF_ASIA_PACIFIC),
    ("66", REST_OF_ASIA_PACIFIC),
    ("993", REST_OF_ASIA_PACIFIC),
    ("998", REST_OF_ASIA_PACIFIC),
    ("84", REST_OF_ASIA_PACIFIC),
    ("95", REST_OF_ASIA_PACIFIC),
    ("355", REST_OF_CE_EUROPE),
    ("374", REST_OF_CE_EUROPE),
    ("994", REST_OF_CE_EUROPE),
    ("375", REST_OF_CE_EUROPE),
    ("359", REST_OF_CE_EUROPE),
    ("385", REST_OF_CE_EUROPE),
    ("420", REST_OF_CE_EUROPE),
    ("995", REST_OF_CE_EUROPE),
    ("30", REST_OF_CE_EUROPE),
    ("36", REST_OF_CE_EUROPE),
    ("76", REST_OF_CE_EUROPE),
    ("77", REST_OF_CE_EUROPE),
    ("371", REST_OF_CE_EUROPE),
    ("370", REST_OF_CE_EUROPE),
    ("389", REST_OF_CE_EUROPE),
    ("373", REST_OF_CE_EUROPE),
    ("48", REST_OF_CE_EUROPE),
    ("40", REST_OF_CE_EUROPE),
    ("381", REST_OF_CE_EUROPE),
    ("421", REST_OF_CE_EUROPE),
    ("386", REST_OF_CE_EUROPE),
    ("380", REST_OF_CE_EUROPE),
    ("973", REST_OF_MIDDLE_EAST),
    ("964", REST_OF_MIDDLE_EAST),
    ("962", REST_OF_MIDDLE_EAST),
    ("965", REST_OF_MIDDLE_EAST),
    ("961", REST_OF_MIDDLE_EAST),
    ("968", REST_OF_MIDDLE_EAST),
    ("974", REST_OF_MIDDLE_EAST),
    ("967", REST_OF_MIDDLE_EAST),
    ("43", REST_OF_WESTERN_EUROPE),
    ("32", REST_OF_WESTERN_EUROPE),
    ("45", REST_OF_WESTERN_EUROPE),
    ("358", REST_OF_WESTERN_EUROPE),
    ("353", REST_OF_WESTERN_EUROPE),
    ("47", REST_OF_WESTERN_EUROPE),
    ("351", REST_OF_WESTERN_EUROPE),
    ("46", REST_OF_WESTERN_EUROPE),
    ("41", REST_OF_WESTERN_EUROPE),
];

/// The market of a phone (`wa_id`, digits), by its longest listed prefix;
/// "Other" when none is listed.
pub fn market_of(phone: &str) -> Market {
    TABLE
        .iter()
        .filter(|(prefix, _)| phone.starts_with(prefix))
        .max_by_key(|(prefix, _)| prefix.len())
        .map_or(OTHER, |(_, market)| market)
}

/// Every market a rate card may name (the table's, and Other).
pub fn all() -> Vec<Market> {
    let mut markets: Vec<Market> = TABLE.iter().map(|(_, market)| *market).collect();
    markets.push(OTHER);
    markets.sort_unstable();
    markets.dedup();
    markets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_prefix_decides() {
        assert_eq!(market_of("16505551234"), "North America");
        assert_eq!(market_of("18765551234"), "Rest of Latin America");
        assert_eq!(market_of("919876543210"), "India");
        assert_eq!(market_of("971501234567"), "United Arab Emirates");
        assert_eq!(market_of("79161234567"), "Russia");
        assert_eq!(market_of("77011234567"), "Rest of Central & Eastern Europe");
        assert_eq!(market_of("4915112345678"), "Germany");
        assert_eq!(market_of("4312345678"), "Rest of Western Europe");
        assert_eq!(market_of("8821234"), "Other");
        assert_eq!(market_of(""), "Other");
    }

    #[test]
    fn no_prefix_is_listed_twice() {
        let mut prefixes: Vec<&str> = TABLE.iter().map(|(p, _)| *p).collect();
        prefixes.sort_unstable();
        let before = prefixes.len();
        prefixes.dedup();
        assert_eq!(before, prefixes.len());
        assert_eq!(
            all().len(),
            32,
            "24 markets, North America, 6 regions, Other"
        );
    }
}
