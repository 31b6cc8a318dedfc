//! The rebalance planner (level 2): which slots to move so primaries carry about equal
//! weight. Pure: the cluster measures the weights, runs the plan and moves the slots.

/// Plans moves that even out the total weight the primaries hold: `held[i]` are the slots
/// of primary `i` (the ones that may move), `weights[slot]` what each slot weighs. Returns
/// `(slot, taker)` moves, `taker` an index into `held`, in the order to run them.
///
/// Greedy, moving as few slots as it can: while some slot of the heaviest primary would
/// narrow its gap to the lightest one (a weight strictly between 0 and the gap), the slot
/// that narrows it most (weight closest to half the gap) moves. Each move shrinks the sum of
/// squared loads, so the plan ends; slots of weight 0 never move.
pub(crate) fn plan(weights: &[u64], mut held: Vec<Vec<u16>>) -> Vec<(u16, usize)> {
    let weight = |s: u16| weights.get(usize::from(s)).copied().unwrap_or(0);
    let mut load: Vec<u64> = held.iter().map(|s| s.iter().map(|&x| weight(x)).sum()).collect();
    let mut moves = Vec::new();
    while held.len() > 1 {
        let donor = (0..load.len()).max_by_key(|&i| load[i]).expect("primaries");
        let taker = (0..load.len()).min_by_key(|&i| load[i]).expect("primaries");
        let gap = load[donor] - load[taker];
        // Moving weight w narrows the gap only if 0 < w < gap; w = gap / 2 closes it.
        let best = held[donor]
            .iter()
            .enumerate()
            .filter(|(_, &s)| (1..gap).contains(&weight(s)))
            .max_by_key(|(_, &s)| weight(s).min(gap - weight(s)));
        let Some((i, &slot)) = best else { break };
        held[donor].swap_remove(i);
        held[taker].push(slot);
        load[donor] -= weight(slot);
        load[taker] += weight(slot);
        moves.push((slot, taker));
    }
    moves
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loads after running `moves` on `held`.
    fn loads(weights: &[u64], mut held: Vec<Vec<u16>>, moves: &[(u16, usize)]) -> Vec<u64> {
        for &(slot, to) in moves {
            let from = held.iter().position(|h| h.contains(&slot)).expect("held");
            held[from].retain(|&s| s != slot);
            held[to].push(slot);
        }
        held.iter().map(|h| h.iter().map(|&s| weights[usize::from(s)]).sum()).collect()
    }

    #[test]
    fn a_balanced_cluster_moves_nothing() {
        let weights = vec![1; 6];
        assert_eq!(plan(&weights, vec![vec![0, 1], vec![2, 3], vec![4, 5]]), vec![]);
        assert_eq!(plan(&weights, vec![vec![0, 1, 2, 3, 4, 5]]), vec![], "one primary");
        assert_eq!(plan(&weights, vec![]), vec![]);
    }

    #[test]
    fn an_empty_primary_takes_about_a_share() {
        // Three primaries of 100 one-weight slots each and a new empty one.
        let weights = vec![1; 300];
        let held: Vec<Vec<u16>> =
            vec![(0..100).collect(), (100..200).collect(), (200..300).collect(), vec![]];
        let moves = plan(&weights, held.clone());
        assert_eq!(moves.len(), 75, "as few moves as it takes");
        assert!(moves.iter().all(|&(_, to)| to == 3), "only the new primary takes slots");
        assert_eq!(loads(&weights, held, &moves), vec![75, 75, 75, 75]);
    }

    #[test]
    fn every_move_narrows_a_gap_and_empty_slots_stay() {
        let mut rng = crate::rng::Rng::with_seed(3);
        for _ in 0..50 {
            let weights: Vec<u64> =
                (0..200).map(|_| if rng.one_in(5) { 0 } else { rng.below(40) }).collect();
            let mut held: Vec<Vec<u16>> = vec![Vec::new(); 1 + rng.index(5)];
            for s in 0..200u16 {
                let i = rng.index(held.len());
                held[i].push(s);
            }
            let moves = plan(&weights, held.clone());
            let square = |l: &[u64]| l.iter().map(|&x| x * x).sum::<u64>();
            let mut before = loads(&weights, held.clone(), &[]);
            for k in 0..moves.len() {
                let after = loads(&weights, held.clone(), &moves[..=k]);
                assert!(square(&after) < square(&before), "move {k} does not even things out");
                before = after;
            }
            assert!(moves.iter().all(|&(s, _)| weights[usize::from(s)] > 0), "empty slots stay");
            let total: u64 = weights.iter().sum();
            assert_eq!(before.iter().sum::<u64>(), total);
            // Greedy ends where no single slot of the heaviest narrows its gap to the lightest.
            let (max, min) = (*before.iter().max().unwrap(), *before.iter().min().unwrap());
            // (The same heaviest the planner picks among equals: the last.)
            let donor = (0..before.len()).max_by_key(|&i| before[i]).unwrap();
            let mut now = held.clone();
            for &(slot, to) in &moves {
                now.iter_mut().for_each(|h| h.retain(|&x| x != slot));
                now[to].push(slot);
            }
            assert!(now[donor].iter().all(|&s| !(1..max - min).contains(&weights[usize::from(s)])));
        }
        // The best single move closes a gap exactly.
        assert_eq!(plan(&[4, 2, 2, 0], vec![vec![0, 1, 2], vec![3]]), vec![(0, 1)]);
    }
}
