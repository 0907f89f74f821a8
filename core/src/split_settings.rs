//! What a split's payee may change after publishing (the manage page): the cap — never below
//! the people already signed up, and not for an equal split, whose head count is everybody's
//! share — and the deadline (a future time, or none). The way of splitting and the amounts stay
//! as published: people signed up under them. The fields are read and checked exactly as at
//! publishing (`NewSplit::validate`).

use crate::collection::FieldError;
use crate::split::{NewSplit, SplitMode, SplitSpec};

/// `spec` with the cap and deadline of `edited` (its other fields are ignored), given `joined`
/// sign-ups at `now`; or every problem, on the `split.*` fields.
pub fn apply(
    spec: &SplitSpec,
    edited: &NewSplit,
    joined: u32,
    now: i64,
) -> Result<SplitSpec, Vec<FieldError>> {
    // The same parsing and messages as publishing, on a probe with a valid mode.
    let probe = NewSplit {
        mode: "fixed".into(),
        per_person: Some("1".into()),
        cap: edited.cap.clone(),
        deadline: edited.deadline.clone(),
        ..NewSplit::default()
    };
    let checked = probe.validate(now)?;
    let cap = match spec.mode {
        SplitMode::Equal { people, .. } => {
            if checked.cap.is_some_and(|cap| cap != people) {
                return Err(vec![error("均摊的人数决定每人金额，发布后不能修改")]);
            }
            Some(people)
        }
        SplitMode::Fixed { .. } | SplitMode::Itemized { .. } => checked.cap,
    };
    if let Some(cap) = cap.filter(|&cap| cap < joined) {
        return Err(vec![error(&format!(
            "已有 {joined} 人接龙，人数上限不能少于 {joined}（现在填的是 {cap}）"
        ))]);
    }
    Ok(SplitSpec {
        cap,
        deadline: checked.deadline,
        ..spec.clone()
    })
}

fn error(message: &str) -> FieldError {
    FieldError {
        field: "split.cap".into(),
        code: "INVALID_CAP".into(),
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Fen;
    use crate::split::PayMode;

    const NOW: i64 = 1_790_000_000;

    fn spec(mode: SplitMode, cap: Option<u32>) -> SplitSpec {
        SplitSpec {
            mode,
            cap,
            deadline: None,
            pay_mode: PayMode::Personal,
        }
    }

    fn edited(cap: &str, deadline: &str) -> NewSplit {
        NewSplit {
            cap: Some(cap.into()),
            deadline: Some(deadline.into()),
            ..NewSplit::default()
        }
    }

    #[test]
    fn the_cap_and_deadline_change_the_rest_stays() {
        let fixed = spec(
            SplitMode::Fixed {
                per_person: Fen::new(500),
            },
            Some(10),
        );
        let changed = apply(&fixed, &edited("30", "2026-12-01T18:00"), 4, NOW).unwrap();
        assert_eq!(changed.cap, Some(30));
        assert!(changed.deadline.is_some());
        assert_eq!(changed.mode, fixed.mode);
        let open = apply(&fixed, &edited("", ""), 4, NOW).unwrap();
        assert_eq!((open.cap, open.deadline), (None, None));
    }

    #[test]
    fn the_cap_never_goes_below_the_sign_ups_nor_changes_an_equal_share() {
        let fixed = spec(
            SplitMode::Fixed {
                per_person: Fen::new(500),
            },
            Some(10),
        );
        let err = apply(&fixed, &edited("3", ""), 4, NOW).unwrap_err();
        assert_eq!(err[0].field, "split.cap");
        assert!(err[0].message.contains("已有 4 人"), "{err:?}");
        let equal = spec(
            SplitMode::Equal {
                total: Fen::new(30_000),
                people: 6,
            },
            Some(6),
        );
        assert!(apply(&equal, &edited("7", ""), 2, NOW).is_err());
        assert_eq!(apply(&equal, &edited("", ""), 2, NOW).unwrap().cap, Some(6));
        let past = apply(&fixed, &edited("", "2020-01-01T18:00"), 0, NOW).unwrap_err();
        assert_eq!(past[0].field, "split.deadline");
    }
}
