//! The typed vocabulary: enums whose stored name, wire name and printed name are one word.
//!
//! [`stored_enum!`] declares such an enum once: strum's `IntoStaticStr` + `EnumString` (the
//! stored name) next to serde (the wire name) and ts-rs (the web view's type), all
//! `snake_case`; [`stored_as_text!`] then gives it `as_str`, `parse` and rusqlite's `ToSql` /
//! `FromSql` as that text, so a ledger row holds exactly the words it always held (no
//! migration). The tests at the bottom check that serde and strum agree for every variant.

/// Declares a fieldless enum of the vocabulary with its derives and its stored text
/// ([`stored_as_text!`]). `(unknown reads as Variant)` after the name makes reading lenient.
macro_rules! stored_enum {
    ($(#[$m:meta])* $vis:vis enum $name:ident $(( unknown reads as $default:ident ))? { $($body:tt)* }) => {
        $(#[$m])*
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            serde::Serialize,
            serde::Deserialize,
            strum::IntoStaticStr,
            strum::EnumString,
            strum::VariantArray,
        )]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS))]
        #[serde(rename_all = "snake_case")]
        #[strum(serialize_all = "snake_case")]
        $vis enum $name { $($body)* }
        $crate::vocab::stored_as_text!($name $(, or $name::$default)?);
    };
}
pub(crate) use stored_enum;

/// Implements `as_str`, `parse` (lenient: an unknown stored word reads as `$default`) and
/// SQLite text conversion for a fieldless enum deriving `strum::IntoStaticStr` and
/// `strum::EnumString`. Without a default, an unknown stored word is a read error.
macro_rules! stored_as_text {
    ($t:ty) => {
        $crate::vocab::stored_as_text!(@common $t);
        impl rusqlite::types::FromSql for $t {
            fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                let s = v.as_str()?;
                s.parse().map_err(|_| {
                    rusqlite::types::FromSqlError::Other(
                        format!("unknown {} `{s}`", stringify!($t)).into(),
                    )
                })
            }
        }
    };
    ($t:ty, or $default:expr) => {
        $crate::vocab::stored_as_text!(@common $t);
        impl $t {
            /// Parses the stored name (an unknown name reads as the default).
            pub fn parse(s: &str) -> Self {
                s.parse().unwrap_or($default)
            }
        }
        impl rusqlite::types::FromSql for $t {
            fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                Ok(<$t>::parse(v.as_str()?))
            }
        }
    };
    (@common $t:ty) => {
        impl $t {
            /// The stored (and shown) name; the same word serde puts on the wire.
            pub fn as_str(self) -> &'static str {
                self.into()
            }
        }
        impl rusqlite::types::ToSql for $t {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(rusqlite::types::ToSqlOutput::from(self.as_str()))
            }
        }
    };
}
pub(crate) use stored_as_text;

#[cfg(test)]
mod tests {
    use rusqlite::types::{FromSql, ToSql, ToSqlOutput, ValueRef};
    use strum::VariantArray;

    /// serde's name, strum's name and the SQLite text are one word, and it reads back.
    fn agree<T>()
    where
        T: VariantArray + Copy + PartialEq + std::fmt::Debug + serde::Serialize + ToSql + FromSql,
        &'static str: From<T>,
    {
        for v in T::VARIANTS {
            let word: &'static str = (*v).into();
            assert_eq!(serde_json::to_value(v).unwrap(), word, "{v:?}");
            let ToSqlOutput::Borrowed(ValueRef::Text(t)) = v.to_sql().unwrap() else {
                panic!("{v:?} is not stored as text");
            };
            assert_eq!(t, word.as_bytes());
            assert_eq!(T::column_result(ValueRef::Text(t)).unwrap(), *v);
        }
    }

    #[test]
    fn serde_strum_and_sqlite_agree() {
        agree::<crate::dispatch::Kind>();
        agree::<crate::ledger::RequestState>();
        agree::<crate::ledger::KeyStatus>();
        agree::<crate::ledger::jobs::JobStatus>();
        agree::<crate::keys::KeySource>();
        agree::<crate::alerts::Rule>();
        agree::<crate::ocr::ErrorClass>();
        agree::<crate::openrouter::FailureClass>();
    }

    #[test]
    fn stored_words_are_the_ones_existing_ledgers_hold() {
        use crate::ledger::RequestState;
        assert_eq!(RequestState::Abandoned.as_str(), "abandoned");
        assert_eq!(
            crate::ledger::KeyStatus::SpendLimited.as_str(),
            "spend_limited"
        );
        assert_eq!(
            crate::ledger::KeyStatus::parse("something_new"),
            crate::ledger::KeyStatus::Ok
        );
        assert_eq!(
            crate::keys::KeySource::parse("env"),
            crate::keys::KeySource::Env
        );
        assert_eq!(
            crate::alerts::Rule::RotationThreshold.as_str(),
            "rotation_threshold"
        );
        assert_eq!(
            crate::ocr::ErrorClass::NoUsableKey.as_str(),
            "no_usable_key"
        );
    }
}
