//! The order of nodes within each layer. An edge that spans several layers gets a dummy node in each layer between
//! its ends, so that every edge joins neighbouring layers; then barycenter sweeps (down, then up, a few times) sort
//! each layer by the mean position of its neighbours in the layer before, and the ordering with the fewest crossings
//! seen is kept; then neighbours are swapped where that removes crossings. Sorts are stable and start from input order,
//! so the result is deterministic.

/// Passes of neighbour swaps after the sweeps.
const TRANSPOSE_ROUNDS: usize = 4;
/// The most edge pairs compared to decide one swap.
const PAIR_COUNT_LIMIT: usize = 10_000;

/// Layers of real nodes (`0..real`) and dummies (`real..`), with the edges between neighbouring layers.
#[derive(Debug, Clone)]
pub(crate) struct Layered {
    /// How many of the vertices are the graph's own nodes; the rest are dummies.
    pub real: usize,
    /// Each layer's vertices, left to right.
    pub layers: Vec<Vec<usize>>,
    /// Each vertex's layer.
    pub rank: Vec<usize>,
    /// Each vertex's neighbours in the layer below.
    pub below: Vec<Vec<usize>>,
    /// Each vertex's neighbours in the layer above.
    pub above: Vec<Vec<usize>>,
    /// For each edge, the vertices it passes through from its upper end to its lower end.
    pub chains: Vec<Vec<usize>>,
}

impl Layered {
    /// Splits every edge (upper end first, as `rank::acyclic` orients them) into a chain through dummy vertices.
    pub(crate) fn new(rank: Vec<usize>, edges: &[(usize, usize)]) -> Self {
        let real = rank.len();
        let mut layered = Layered {
            real,
            layers: Vec::new(),
            below: vec![Vec::new(); real],
            above: vec![Vec::new(); real],
            rank,
            chains: Vec::with_capacity(edges.len()),
        };
        for &(from, to) in edges {
            let mut chain = vec![from];
            for layer in layered.rank[from] + 1..layered.rank[to] {
                let dummy = layered.rank.len();
                layered.rank.push(layer);
                layered.below.push(Vec::new());
                layered.above.push(Vec::new());
                chain.push(dummy);
            }
            chain.push(to);
            for pair in chain.windows(2) {
                layered.below[pair[0]].push(pair[1]);
                layered.above[pair[1]].push(pair[0]);
            }
            layered.chains.push(chain);
        }
        let depth = layered.rank.iter().max().map_or(0, |&deepest| deepest + 1);
        layered.layers = vec![Vec::new(); depth];
        for (vertex, &layer) in layered.rank.iter().enumerate() {
            layered.layers[layer].push(vertex);
        }
        layered
    }

    /// Orders every layer with `sweeps` rounds of barycenter sorting (each a pass down and a pass up), keeping the
    /// order with the fewest crossings.
    pub(crate) fn reduce_crossings(&mut self, sweeps: usize) {
        let mut position = self.positions();
        let mut best = (self.crossings(&position), self.layers.clone());
        for _ in 0..sweeps {
            if best.0 == 0 {
                break;
            }
            for layer in 1..self.layers.len() {
                self.sort_layer(layer, &mut position, true);
            }
            for layer in (0..self.layers.len().saturating_sub(1)).rev() {
                self.sort_layer(layer, &mut position, false);
            }
            let crossings = self.crossings(&position);
            if crossings < best.0 {
                best = (crossings, self.layers.clone());
            }
        }
        self.layers = best.1;
        let mut position = self.positions();
        self.transpose(&mut position, TRANSPOSE_ROUNDS);
    }

    /// Swaps neighbours in a layer while that removes crossings (each swap changes only the crossings between the
    /// two vertices' own edges, so the total never grows), for at most `rounds` passes over every layer.
    fn transpose(&mut self, position: &mut [usize], rounds: usize) {
        for _ in 0..rounds {
            let mut improved = false;
            for layer in 0..self.layers.len() {
                for i in 1..self.layers[layer].len() {
                    let (left, right) = (self.layers[layer][i - 1], self.layers[layer][i]);
                    if self.pair_crossings(left, right, position) > self.pair_crossings(right, left, position) {
                        self.layers[layer].swap(i - 1, i);
                        position.swap(left, right);
                        improved = true;
                    }
                }
            }
            if !improved {
                return;
            }
        }
    }

    /// Crossings between `left`'s edges and `right`'s when `left` is to the left of `right`; 0 for two vertices with
    /// so many edges that counting would cost more than it could save (a fan-out's parent beside another).
    fn pair_crossings(&self, left: usize, right: usize, position: &[usize]) -> usize {
        let mut crossings = 0;
        for neighbours in [&self.above, &self.below] {
            let (mine, theirs) = (&neighbours[left], &neighbours[right]);
            if mine.len() * theirs.len() > PAIR_COUNT_LIMIT {
                continue;
            }
            for &a in mine {
                crossings += theirs.iter().filter(|&&b| position[a] > position[b]).count();
            }
        }
        crossings
    }

    pub(crate) fn positions(&self) -> Vec<usize> {
        let mut position = vec![0; self.rank.len()];
        for layer in &self.layers {
            for (i, &vertex) in layer.iter().enumerate() {
                position[vertex] = i;
            }
        }
        position
    }

    /// Sorts one layer by the mean position of each vertex's neighbours above (`from_above`) or below; a vertex
    /// without such neighbours keeps its place as its key.
    fn sort_layer(&mut self, layer: usize, position: &mut [usize], from_above: bool) {
        let neighbours = if from_above { &self.above } else { &self.below };
        let mut keyed: Vec<(f64, usize)> = self.layers[layer]
            .iter()
            .map(|&vertex| {
                let near = &neighbours[vertex];
                let key = if near.is_empty() {
                    position[vertex] as f64
                } else {
                    near.iter().map(|&n| position[n] as f64).sum::<f64>() / near.len() as f64
                };
                (key, vertex)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (i, &(_, vertex)) in keyed.iter().enumerate() {
            self.layers[layer][i] = vertex;
            position[vertex] = i;
        }
    }

    /// Edge crossings between all neighbouring layers: for each pair, the inversions among the lower ends once the
    /// edges are sorted by their upper ends, counted with a Fenwick tree.
    pub(crate) fn crossings(&self, position: &[usize]) -> u64 {
        let mut total = 0;
        for pair in self.layers.windows(2) {
            let mut ends: Vec<(usize, usize)> = pair[0]
                .iter()
                .flat_map(|&upper| self.below[upper].iter().map(move |&lower| (upper, lower)))
                .map(|(upper, lower)| (position[upper], position[lower]))
                .collect();
            ends.sort_unstable();
            let mut tree = vec![0u64; pair[1].len() + 1];
            for (seen, &(_, lower)) in ends.iter().enumerate() {
                // Edges seen so far whose lower end is at or left of this one's do not cross it.
                let mut at_or_left = 0;
                let mut i = lower + 1;
                while i > 0 {
                    at_or_left += tree[i];
                    i -= i & i.wrapping_neg();
                }
                total += seen as u64 - at_or_left;
                let mut i = lower + 1;
                while i < tree.len() {
                    tree[i] += 1;
                    i += i & i.wrapping_neg();
                }
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever the sweeps and swaps do, the ordering kept has no more crossings than the input order had.
        #[test]
        fn reducing_never_adds_crossings(
            rank in prop::collection::vec(0usize..5, 2..40),
            pairs in prop::collection::vec((0usize..40, 0usize..40), 0..80),
        ) {
            let edges: Vec<(usize, usize)> = pairs
                .into_iter()
                .filter(|&(a, b)| a < rank.len() && b < rank.len() && rank[a] < rank[b])
                .collect();
            let mut layered = Layered::new(rank, &edges);
            let before = layered.crossings(&layered.positions());
            layered.reduce_crossings(4);
            prop_assert!(layered.crossings(&layered.positions()) <= before);
        }
    }

    #[test]
    fn long_edges_pass_through_a_dummy_per_layer() {
        let layered = Layered::new(vec![0, 1, 3], &[(0, 1), (0, 2)]);
        assert_eq!(layered.chains, vec![vec![0, 1], vec![0, 3, 4, 2]]);
        assert_eq!(layered.layers, vec![vec![0], vec![1, 3], vec![4], vec![2]]);
    }

    #[test]
    fn sweeps_untangle_a_crossing() {
        // 0 -> 3 and 1 -> 2 cross when layer 1 is [2, 3].
        let mut layered = Layered::new(vec![0, 0, 1, 1], &[(0, 3), (1, 2)]);
        assert_eq!(layered.crossings(&layered.positions()), 1);
        layered.reduce_crossings(4);
        assert_eq!(layered.crossings(&layered.positions()), 0);
    }
}
