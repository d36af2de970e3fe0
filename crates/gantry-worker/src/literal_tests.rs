use std::collections::BTreeMap;
use std::time::{Duration as StdDuration, SystemTime, UNIX_EPOCH};

use gantry_core::model::{Duration, Literal, LiteralType, Timestamp, UnionValue};

use super::*;

fn round_trip<T: IntoLiteral + FromLiteral + PartialEq + fmt::Debug + Clone>(value: T) {
    let literal = value.clone().into_literal();
    assert_eq!(T::from_literal(&literal), Ok(value), "through {literal:?}");
}

#[test]
fn error_values_round_trip_and_hashes_are_looked_through() {
    let failure = ErrorValue {
        failed_node_id: "n0/0/dn3".to_owned(),
        message: "boom".to_owned(),
    };
    round_trip(failure.clone());
    round_trip(Some(failure));
    assert_eq!(
        ErrorValue::from_literal(&Literal::Integer(1)),
        Err(LiteralError::new("expected error, got integer"))
    );
    let hashed = Literal::hashed("h".to_owned(), Literal::Integer(3));
    assert_eq!(i64::from_literal(&hashed), Ok(3));
}

#[test]
fn scalars_round_trip() {
    round_trip(42i64);
    round_trip(-7i64);
    round_trip(1.5f64);
    round_trip(String::from("hello"));
    round_trip(true);
    round_trip(vec![0u8, 255, 3]);
    round_trip(Duration {
        seconds: 1,
        nanos: 500_000_000,
    });
    round_trip(Timestamp {
        seconds: 1_700_000_000,
        nanos: 7,
    });
    round_trip(StdDuration::from_millis(1500));
}

#[test]
fn containers_round_trip() {
    round_trip(vec![1i64, 2, 3]);
    round_trip(vec![vec![String::from("a")], vec![]]);
    round_trip(BTreeMap::from([(String::from("a"), 1.0f64), (String::from("b"), 2.0)]));
    round_trip(Some(3i64));
    round_trip(None::<i64>);
    round_trip(vec![Some(true), None]);
}

#[test]
fn bytes_are_binary_not_a_collection() {
    assert_eq!(vec![1u8, 2].into_literal(), Literal::Binary(vec![1, 2]));
    assert_eq!(
        vec![1i64, 2].into_literal(),
        Literal::Collection(vec![Literal::Integer(1), Literal::Integer(2)])
    );
}

#[test]
fn system_time_round_trips_before_and_after_the_epoch() {
    for time in [
        UNIX_EPOCH + StdDuration::new(1_700_000_000, 123),
        UNIX_EPOCH - StdDuration::new(10, 250_000_000),
        UNIX_EPOCH,
    ] {
        round_trip(time);
    }
    assert_eq!(
        (UNIX_EPOCH - StdDuration::new(10, 250_000_000)).into_literal(),
        Literal::Datetime(Timestamp {
            seconds: -11,
            nanos: 750_000_000
        })
    );
    let _ = SystemTime::now().into_literal();
}

#[test]
fn a_kind_mismatch_names_both_kinds() {
    let error = i64::from_literal(&Literal::String("x".into())).unwrap_err();
    assert_eq!(error.to_string(), "expected integer, got string");
    assert!(
        f64::from_literal(&Literal::Integer(1)).is_err(),
        "no coercion between kinds"
    );
}

#[test]
fn errors_inside_containers_carry_the_path() {
    let literal = Literal::Map(BTreeMap::from([(
        "k".to_owned(),
        Literal::Collection(vec![Literal::Integer(1), Literal::Boolean(true)]),
    )]));
    let error = BTreeMap::<String, Vec<i64>>::from_literal(&literal).unwrap_err();
    assert_eq!(error.path, "['k'][1]");
    assert_eq!(error.to_string(), "at ['k'][1]: expected integer, got boolean");
}

#[test]
fn narrow_integers_check_their_range() {
    assert_eq!(u32::from_literal(&Literal::Integer(7)), Ok(7));
    assert!(u32::from_literal(&Literal::Integer(-1)).is_err());
    assert!(i32::from_literal(&Literal::Integer(i64::MAX)).is_err());
    assert_eq!(3usize.into_literal(), Literal::Integer(3));
}

#[test]
fn union_values_are_looked_through() {
    let literal = Literal::Union(Box::new(UnionValue {
        value: Literal::Integer(5),
        variant: LiteralType::Integer,
    }));
    assert_eq!(i64::from_literal(&literal), Ok(5));
    assert_eq!(Option::<i64>::from_literal(&literal), Ok(Some(5)));
    let none = Literal::Union(Box::new(UnionValue {
        value: Literal::None,
        variant: LiteralType::None,
    }));
    assert_eq!(Option::<i64>::from_literal(&none), Ok(None));
}

#[test]
fn only_options_accept_a_missing_value() {
    assert_eq!(Option::<String>::from_missing(), Ok(None));
    assert!(String::from_missing().is_err());
}

#[test]
fn strings_read_enum_values() {
    assert_eq!(String::from_literal(&Literal::Enum("red".into())), Ok("red".to_owned()));
}

#[test]
fn negative_durations_do_not_fit_std() {
    let literal = Literal::Duration(Duration { seconds: -1, nanos: 0 });
    assert!(StdDuration::from_literal(&literal).is_err());
}
