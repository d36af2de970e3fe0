//! Horizontal positions. Each layer starts packed; then passes down and up move every vertex towards the mean of its
//! neighbours' positions in the layer before, as close as the layer's order and spacing allow: the leftmost and the
//! rightmost placements that respect the spacing are computed and averaged, which respects it too and centres a
//! run of vertices that all want the same spot (a fan-out's children under their parent).

use super::order::Layered;

/// How much room a vertex takes and how far apart neighbours stand.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spacing {
    /// A real node's width.
    pub node_width: f64,
    /// Between two boxes, or a box and an edge.
    pub gap: f64,
    /// Between two edges passing through a layer.
    pub edge_gap: f64,
}

impl Spacing {
    fn width(&self, layered: &Layered, vertex: usize) -> f64 {
        if vertex < layered.real { self.node_width } else { 0.0 }
    }

    /// The least distance between the centres of neighbours `left` and `right`.
    fn separation(&self, layered: &Layered, left: usize, right: usize) -> f64 {
        let gap = if left < layered.real || right < layered.real {
            self.gap
        } else {
            self.edge_gap
        };
        (self.width(layered, left) + self.width(layered, right)) / 2.0 + gap
    }
}

/// Each vertex's centre, with the leftmost box's left edge at 0.
pub(crate) fn horizontal(layered: &Layered, spacing: Spacing, passes: usize) -> Vec<f64> {
    let mut x = vec![0.0; layered.rank.len()];
    for layer in &layered.layers {
        let desired: Vec<f64> = vec![0.0; layer.len()];
        place(layered, spacing, layer, &desired, &mut x);
    }
    for _ in 0..passes {
        for layer in 1..layered.layers.len() {
            align(layered, spacing, layer, &layered.above, &mut x);
        }
        for layer in (0..layered.layers.len().saturating_sub(1)).rev() {
            align(layered, spacing, layer, &layered.below, &mut x);
        }
    }
    let left = (0..x.len())
        .map(|vertex| x[vertex] - spacing.width(layered, vertex) / 2.0)
        .fold(f64::INFINITY, f64::min);
    if left.is_finite() {
        for value in &mut x {
            *value -= left;
        }
    }
    x
}

/// Moves one layer towards its neighbours in `neighbours` (a vertex without any stays where it is).
fn align(layered: &Layered, spacing: Spacing, layer: usize, neighbours: &[Vec<usize>], x: &mut [f64]) {
    let vertices = &layered.layers[layer];
    let desired: Vec<f64> = vertices
        .iter()
        .map(|&vertex| {
            let near = &neighbours[vertex];
            if near.is_empty() {
                x[vertex]
            } else {
                near.iter().map(|&n| x[n]).sum::<f64>() / near.len() as f64
            }
        })
        .collect();
    place(layered, spacing, vertices, &desired, x);
}

/// Places `vertices` (one layer, in order) as near `desired` as the spacing allows.
fn place(layered: &Layered, spacing: Spacing, vertices: &[usize], desired: &[f64], x: &mut [f64]) {
    let count = vertices.len();
    if count == 0 {
        return;
    }
    let mut leftmost = vec![0.0; count];
    for i in 0..count {
        leftmost[i] = if i == 0 {
            desired[0]
        } else {
            desired[i].max(leftmost[i - 1] + spacing.separation(layered, vertices[i - 1], vertices[i]))
        };
    }
    let mut rightmost = vec![0.0; count];
    for i in (0..count).rev() {
        rightmost[i] = if i == count - 1 {
            desired[i]
        } else {
            desired[i].min(rightmost[i + 1] - spacing.separation(layered, vertices[i], vertices[i + 1]))
        };
    }
    for i in 0..count {
        x[vertices[i]] = (leftmost[i] + rightmost[i]) / 2.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPACING: Spacing = Spacing {
        node_width: 100.0,
        gap: 20.0,
        edge_gap: 10.0,
    };

    #[test]
    fn children_centre_under_their_parent() {
        // 0 above 1, 2, 3.
        let layered = Layered::new(vec![0, 1, 1, 1], &[(0, 1), (0, 2), (0, 3)]);
        let x = horizontal(&layered, SPACING, 4);
        assert_eq!(x[2], x[0]);
        assert_eq!((x[2] - x[1], x[3] - x[2]), (120.0, 120.0));
        assert_eq!(x[1], 50.0);
    }
}
