//! Delta debugging (Zeller's ddmin): the fewest steps of a failing schedule that still fail.
//! The result is 1-minimal: taking away any one more step makes it pass (or not run).

/// The smallest subsequence of `steps` found for which `fails` holds (`fails(steps)` must).
pub fn ddmin<T: Clone>(steps: &[T], fails: &mut dyn FnMut(&[T]) -> bool) -> Vec<T> {
    let mut current = steps.to_vec();
    let mut n = 2;
    while current.len() >= 2 {
        let chunk = current.len().div_ceil(n);
        let chunks: Vec<Vec<T>> = current.chunks(chunk).map(<[T]>::to_vec).collect();
        let mut reduced = false;
        // A chunk alone.
        for c in &chunks {
            if fails(c) {
                current = c.clone();
                n = 2;
                reduced = true;
                break;
            }
        }
        if !reduced {
            // Everything but a chunk.
            for i in 0..chunks.len() {
                let rest: Vec<T> = chunks
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .flat_map(|(_, c)| c.iter().cloned())
                    .collect();
                if fails(&rest) {
                    current = rest;
                    n = (n - 1).max(2);
                    reduced = true;
                    break;
                }
            }
        }
        if !reduced {
            if n >= current.len() {
                break;
            }
            n = (n * 2).min(current.len());
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_steps_that_matter_remain() {
        // Fails when 3 comes before 7, whatever else is there.
        let steps: Vec<u32> = (0..20).collect();
        let mut tries = 0;
        let mut fails = |s: &[u32]| {
            tries += 1;
            let at = |x| s.iter().position(|&v| v == x);
            matches!((at(3), at(7)), (Some(a), Some(b)) if a < b)
        };
        assert_eq!(ddmin(&steps, &mut fails), vec![3, 7]);
        assert!(tries < 100, "{tries} tries");
    }

    #[test]
    fn one_step_stays_one_step() {
        let mut fails = |s: &[u32]| s.contains(&5);
        assert_eq!(ddmin(&[1, 5, 9], &mut fails), vec![5]);
        assert_eq!(ddmin(&[5], &mut fails), vec![5]);
    }
}
