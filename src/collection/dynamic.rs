//! Postman's dynamic variables (`{{$guid}}`, `{{$randomEmail}}`, ...), fresh for every
//! response, and the path variables a request gives an example (`{{userId}}` from
//! `/users/{{userId}}` or `/users/:userId`). Fake data comes from the `fake` crate's
//! English locale; `SUPPORTED` (in the tests) lists every name filled. Unknown names stay literal,
//! as Postman leaves them.

use std::time::{Duration, SystemTime};

use fake::faker::address::en::{
    CityName, CountryCode, CountryName, Latitude, Longitude, StreetName, ZipCode,
};
use fake::faker::company::en::{
    Bs, BsAdj, BsNoun, BsVerb, Buzzword, CatchPhrase, CompanyName, CompanySuffix, Industry,
};
use fake::faker::currency::en::{CurrencyCode, CurrencyName, CurrencySymbol};
use fake::faker::filesystem::en::{DirPath, FileExtension, FileName, FilePath, MimeType, Semver};
use fake::faker::finance::en::Bic;
use fake::faker::internet::en::{
    DomainSuffix, FreeEmail, IPv4, IPv6, MACAddress, Password, SafeEmail, UserAgent, Username,
};
use fake::faker::job::en::{Field, Position, Seniority, Title as JobTitle};
use fake::faker::lorem::en::{Paragraph, Paragraphs, Sentence, Sentences, Word, Words};
use fake::faker::name::en::{FirstName, LastName, Name, Suffix, Title};
use fake::faker::phone_number::en::PhoneNumber;
use fake::Fake;

use crate::har::format::iso8601;

/// Every `{{$name}}` harp fills.
#[cfg(test)]
const SUPPORTED: &[&str] = &[
    "$guid",
    "$randomUUID",
    "$timestamp",
    "$isoTimestamp",
    "$randomInt",
    "$randomBoolean",
    "$randomAlphaNumeric",
    "$randomHexColor",
    "$randomColor",
    "$randomAbbreviation",
    "$randomIP",
    "$randomIPV6",
    "$randomMACAddress",
    "$randomPassword",
    "$randomLocale",
    "$randomUserAgent",
    "$randomProtocol",
    "$randomSemver",
    "$randomFirstName",
    "$randomLastName",
    "$randomFullName",
    "$randomNamePrefix",
    "$randomNameSuffix",
    "$randomJobArea",
    "$randomJobDescriptor",
    "$randomJobTitle",
    "$randomJobType",
    "$randomPhoneNumber",
    "$randomPhoneNumberExt",
    "$randomCity",
    "$randomStreetName",
    "$randomStreetAddress",
    "$randomCountry",
    "$randomCountryCode",
    "$randomLatitude",
    "$randomLongitude",
    "$randomZipCode",
    "$randomBankAccount",
    "$randomBankAccountName",
    "$randomCreditCardMask",
    "$randomBankAccountBic",
    "$randomBankAccountIban",
    "$randomTransactionType",
    "$randomCurrencyCode",
    "$randomCurrencyName",
    "$randomCurrencySymbol",
    "$randomCompanyName",
    "$randomCompanySuffix",
    "$randomBs",
    "$randomBsAdjective",
    "$randomBsBuzz",
    "$randomBsNoun",
    "$randomCatchPhrase",
    "$randomCatchPhraseAdjective",
    "$randomCatchPhraseDescriptor",
    "$randomCatchPhraseNoun",
    "$randomDepartment",
    "$randomDateFuture",
    "$randomDatePast",
    "$randomDateRecent",
    "$randomWeekday",
    "$randomMonth",
    "$randomDomainName",
    "$randomDomainSuffix",
    "$randomDomainWord",
    "$randomEmail",
    "$randomExampleEmail",
    "$randomUserName",
    "$randomUrl",
    "$randomFileName",
    "$randomFileType",
    "$randomFileExt",
    "$randomCommonFileName",
    "$randomCommonFileType",
    "$randomCommonFileExt",
    "$randomFilePath",
    "$randomDirectoryPath",
    "$randomMimeType",
    "$randomPrice",
    "$randomProduct",
    "$randomProductName",
    "$randomProductAdjective",
    "$randomProductMaterial",
    "$randomNoun",
    "$randomVerb",
    "$randomIngverb",
    "$randomAdjective",
    "$randomWord",
    "$randomWords",
    "$randomPhrase",
    "$randomLoremWord",
    "$randomLoremWords",
    "$randomLoremSentence",
    "$randomLoremSentences",
    "$randomLoremParagraph",
    "$randomLoremParagraphs",
    "$randomLoremText",
    "$randomLoremSlug",
    "$randomLoremLines",
    "$randomAvatarImage",
    "$randomImageUrl",
];

fn pick(list: &[&str]) -> String {
    list[(0..list.len()).fake::<usize>()].to_string()
}

fn digits(n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + (0..10u8).fake::<u8>()))
        .collect()
}

fn uuid_v4() -> String {
    let mut b: [u8; 16] = std::array::from_fn(|_| (0..=255u8).fake::<u8>());
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A time `days` days (at most) from now, past or future, as an RFC 1123-like string
/// the way Postman prints dates.
fn date(future: bool, days: u64) -> String {
    let offset = Duration::from_secs((60..days * 86_400).fake::<u64>());
    let now = SystemTime::now();
    let when = if future { now + offset } else { now - offset };
    let t = time::OffsetDateTime::from(when);
    let format = time::macros::format_description!(
        "[weekday repr:short] [month repr:short] [day] [year] [hour]:[minute]:[second] GMT+0000 (Coordinated Universal Time)"
    );
    t.format(&format).unwrap_or_else(|_| iso8601(when))
}

fn slug(words: Vec<String>) -> String {
    words.join("-").to_ascii_lowercase()
}

const WEEKDAYS: &[&str] = &[
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: &[&str] = &[
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const COLORS: &[&str] = &[
    "red", "orange", "yellow", "green", "blue", "indigo", "violet", "black", "white", "gray",
    "maroon", "olive", "teal", "navy", "purple", "silver", "gold", "pink", "cyan", "magenta",
];
const ABBREVIATIONS: &[&str] = &[
    "HTTP", "JSON", "XML", "SQL", "API", "SDK", "TCP", "UDP", "SSL", "CSS", "HTML", "RAM", "USB",
];
const PRODUCTS: &[&str] = &[
    "Chair", "Car", "Computer", "Keyboard", "Mouse", "Bike", "Ball", "Gloves", "Pants", "Shirt",
    "Table", "Shoes", "Hat", "Towels", "Soap", "Tuna", "Chicken", "Fish", "Cheese", "Bacon",
];
const MATERIALS: &[&str] = &[
    "Steel", "Wooden", "Concrete", "Plastic", "Cotton", "Granite", "Rubber", "Metal", "Soft",
    "Fresh", "Frozen",
];
const ADJECTIVES: &[&str] = &[
    "Small",
    "Ergonomic",
    "Rustic",
    "Intelligent",
    "Gorgeous",
    "Incredible",
    "Fantastic",
    "Practical",
    "Sleek",
    "Awesome",
    "Generic",
    "Handcrafted",
    "Handmade",
    "Licensed",
    "Refined",
    "Unbranded",
    "Tasty",
];
const DEPARTMENTS: &[&str] = &[
    "Books",
    "Movies",
    "Music",
    "Games",
    "Electronics",
    "Computers",
    "Home",
    "Garden",
    "Tools",
    "Grocery",
    "Health",
    "Beauty",
    "Toys",
    "Kids",
    "Baby",
    "Clothing",
    "Shoes",
    "Jewelery",
    "Sports",
    "Outdoors",
    "Automotive",
    "Industrial",
];
const VERBS: &[&str] = &[
    "navigate",
    "parse",
    "compress",
    "index",
    "synthesize",
    "transmit",
    "program",
    "override",
    "bypass",
    "calculate",
    "connect",
    "generate",
    "hack",
    "copy",
    "reboot",
    "quantify",
];
const NOUNS: &[&str] = &[
    "driver",
    "protocol",
    "bandwidth",
    "panel",
    "microchip",
    "program",
    "port",
    "card",
    "array",
    "interface",
    "system",
    "sensor",
    "firewall",
    "hard drive",
    "pixel",
    "alarm",
    "feed",
    "monitor",
    "application",
    "transmitter",
    "bus",
    "circuit",
    "capacitor",
    "matrix",
];
const LOCALES: &[&str] = &[
    "en", "de", "fr", "es", "it", "nl", "pt", "ja", "zh", "ko", "ru",
];
const FILE_TYPES: &[&str] = &["application", "audio", "image", "text", "video"];
const TRANSACTIONS: &[&str] = &["deposit", "withdrawal", "payment", "invoice"];

/// The value of the dynamic variable `name` (with its `$`), or `None` when harp does not
/// know it.
fn dynamic_value(name: &str) -> Option<String> {
    let s = |v: String| Some(v);
    match name {
        "$guid" | "$randomUUID" => s(uuid_v4()),
        "$timestamp" => s(SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            .to_string()),
        "$isoTimestamp" => s(iso8601(SystemTime::now())),
        "$randomInt" => s((0..=1000u32).fake::<u32>().to_string()),
        "$randomBoolean" => s((0..2u8).fake::<u8>().eq(&1).to_string()),
        "$randomAlphaNumeric" => s(pick(&[
            "a", "b", "c", "d", "e", "f", "g", "h", "k", "m", "n", "p", "x", "z", "0", "1", "2",
            "3", "4", "5", "6", "7", "8", "9",
        ])),
        "$randomHexColor" => s(format!("#{:06x}", (0..0x1000000u32).fake::<u32>())),
        "$randomColor" => s(pick(COLORS)),
        "$randomAbbreviation" => s(pick(ABBREVIATIONS)),
        "$randomIP" => s(IPv4().fake()),
        "$randomIPV6" => s(IPv6().fake()),
        "$randomMACAddress" => s(MACAddress().fake()),
        "$randomPassword" => s(Password(15..16).fake()),
        "$randomLocale" => s(pick(LOCALES)),
        "$randomUserAgent" => s(UserAgent().fake()),
        "$randomProtocol" => s(pick(&["http", "https"])),
        "$randomSemver" => s(Semver().fake()),
        "$randomFirstName" => s(FirstName().fake()),
        "$randomLastName" => s(LastName().fake()),
        "$randomFullName" => s(Name().fake()),
        "$randomNamePrefix" => s(Title().fake()),
        "$randomNameSuffix" => s(Suffix().fake()),
        "$randomJobArea" => s(Field().fake()),
        "$randomJobDescriptor" => s(Seniority().fake()),
        "$randomJobTitle" => s(JobTitle().fake()),
        "$randomJobType" => s(Position().fake()),
        "$randomPhoneNumber" => s(PhoneNumber().fake()),
        "$randomPhoneNumberExt" => s(format!("{}-{}", digits(2), PhoneNumber().fake::<String>())),
        "$randomCity" => s(CityName().fake()),
        "$randomStreetName" => s(StreetName().fake()),
        "$randomStreetAddress" => s(format!("{} {}", digits(4), StreetName().fake::<String>())),
        "$randomCountry" => s(CountryName().fake()),
        "$randomCountryCode" => s(CountryCode().fake()),
        "$randomLatitude" => s(Latitude().fake()),
        "$randomLongitude" => s(Longitude().fake()),
        "$randomZipCode" => s(ZipCode().fake()),
        "$randomBankAccount" => s(digits(8)),
        "$randomBankAccountName" => s(format!(
            "{} Account",
            pick(&[
                "Checking",
                "Savings",
                "Money Market",
                "Investment",
                "Home Loan",
                "Credit Card",
                "Personal Loan"
            ])
        )),
        "$randomCreditCardMask" => s(digits(4)),
        "$randomBankAccountBic" => s(Bic().fake()),
        "$randomBankAccountIban" => s(format!(
            "GB{}{}{}",
            digits(2),
            pick(&["NWBK", "BARC", "HBUK", "LOYD"]),
            digits(14)
        )),
        "$randomTransactionType" => s(pick(TRANSACTIONS)),
        "$randomCurrencyCode" => s(CurrencyCode().fake()),
        "$randomCurrencyName" => s(CurrencyName().fake()),
        "$randomCurrencySymbol" => s(CurrencySymbol().fake()),
        "$randomCompanyName" => s(CompanyName().fake()),
        "$randomCompanySuffix" => s(CompanySuffix().fake()),
        "$randomBs" => s(Bs().fake()),
        "$randomBsAdjective" => s(BsAdj().fake()),
        "$randomBsBuzz" => s(BsVerb().fake()),
        "$randomBsNoun" => s(BsNoun().fake()),
        "$randomCatchPhrase" => s(CatchPhrase().fake()),
        "$randomCatchPhraseAdjective" => s(Buzzword().fake()),
        "$randomCatchPhraseDescriptor" => s(Industry().fake()),
        "$randomCatchPhraseNoun" => s(BsNoun().fake()),
        "$randomDepartment" => s(pick(DEPARTMENTS)),
        "$randomDateFuture" => s(date(true, 365)),
        "$randomDatePast" => s(date(false, 365)),
        "$randomDateRecent" => s(date(false, 1)),
        "$randomWeekday" => s(pick(WEEKDAYS)),
        "$randomMonth" => s(pick(MONTHS)),
        "$randomDomainName" => s(format!(
            "{}.{}",
            Word().fake::<String>(),
            DomainSuffix().fake::<String>()
        )),
        "$randomDomainSuffix" => s(DomainSuffix().fake()),
        "$randomDomainWord" => s(Word().fake()),
        "$randomEmail" => s(FreeEmail().fake()),
        "$randomExampleEmail" => s(SafeEmail().fake()),
        "$randomUserName" => s(Username().fake()),
        "$randomUrl" => s(format!(
            "https://{}.{}",
            Word().fake::<String>(),
            DomainSuffix().fake::<String>()
        )),
        "$randomFileName" | "$randomCommonFileName" => s(FileName().fake()),
        "$randomFileType" | "$randomCommonFileType" => s(pick(FILE_TYPES)),
        "$randomFileExt" | "$randomCommonFileExt" => s(FileExtension().fake()),
        "$randomFilePath" => s(FilePath().fake()),
        "$randomDirectoryPath" => s(DirPath().fake()),
        "$randomMimeType" => s(MimeType().fake()),
        "$randomPrice" => s(format!(
            "{}.{:02}",
            (1..1000u32).fake::<u32>(),
            (0..100u32).fake::<u32>()
        )),
        "$randomProduct" => s(pick(PRODUCTS)),
        "$randomProductName" => s(format!(
            "{} {} {}",
            pick(ADJECTIVES),
            pick(MATERIALS),
            pick(PRODUCTS)
        )),
        "$randomProductAdjective" => s(pick(ADJECTIVES)),
        "$randomProductMaterial" => s(pick(MATERIALS)),
        "$randomNoun" => s(pick(NOUNS)),
        "$randomVerb" => s(pick(VERBS)),
        "$randomIngverb" => s(format!("{}ing", pick(VERBS).trim_end_matches('e'))),
        "$randomAdjective" => s(pick(ADJECTIVES).to_ascii_lowercase()),
        "$randomWord" | "$randomLoremWord" => s(Word().fake()),
        "$randomWords" | "$randomLoremWords" => s(Words(3..4).fake::<Vec<String>>().join(" ")),
        "$randomPhrase" => s(CatchPhrase().fake()),
        "$randomLoremSentence" => s(Sentence(5..10).fake()),
        "$randomLoremSentences" => s(Sentences(2..5).fake::<Vec<String>>().join(" ")),
        "$randomLoremParagraph" | "$randomLoremText" => s(Paragraph(3..5).fake()),
        "$randomLoremParagraphs" => s(Paragraphs(3..4).fake::<Vec<String>>().join("\n \r")),
        "$randomLoremSlug" => s(slug(Words(3..4).fake())),
        "$randomLoremLines" => s(Sentences(1..5).fake::<Vec<String>>().join("\n")),
        "$randomAvatarImage" => s(format!(
            "https://avatars.example.com/{}_128.jpg",
            Username().fake::<String>()
        )),
        "$randomImageUrl" => s(format!("https://images.example.com/640/480?{}", digits(4))),
        _ => None,
    }
}

/// `text` with every `{{$dynamic}}` filled fresh and every `{{name}}` found in `vars`
/// (path variables) replaced; other `{{...}}` stay as they are.
pub fn fill(text: &str, vars: &[(String, String)]) -> String {
    super::model::substitute(text, |name| {
        if name.starts_with('$') {
            dynamic_value(name)
        } else {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_name_is_filled() {
        for name in SUPPORTED {
            let v =
                dynamic_value(name).unwrap_or_else(|| panic!("{name} is listed but not filled"));
            assert!(!v.is_empty(), "{name}");
        }
        assert_eq!(dynamic_value("$noSuchThing"), None);
    }

    #[test]
    fn fills_fresh_values_and_path_variables_keeping_unknown_ones() {
        let out = fill(
            r#"{"id":"{{$guid}}","t":{{$timestamp}},"n":{{$randomInt}},"e":"{{$randomEmail}}","u":"{{userId}}","keep":"{{$unknown}}","v":"{{plain}}"}"#,
            &[("userId".into(), "42".into())],
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["id"].as_str().unwrap().len(), 36);
        assert_eq!(&v["id"].as_str().unwrap()[14..15], "4");
        assert!(v["t"].as_u64().unwrap() > 1_700_000_000);
        assert!(v["n"].as_u64().unwrap() <= 1000);
        assert!(v["e"].as_str().unwrap().contains('@'));
        assert_eq!(v["u"], "42");
        assert_eq!(v["keep"], "{{$unknown}}");
        assert_eq!(v["v"], "{{plain}}");
        assert_ne!(fill("{{$guid}}", &[]), fill("{{$guid}}", &[]));
    }
}
