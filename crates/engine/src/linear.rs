//! Least squares by projection, shared by the appearance (`observe`: its smooth shading taken
//! out) and the identity measure (`identity`: the model of a face's appearance over a session).

/// The columns of a design, made orthonormal (Gram-Schmidt, in order); a column that adds
/// nothing is dropped.
pub fn orthonormal(columns: Vec<Vec<f64>>) -> Vec<Vec<f64>> {
    let mut basis: Vec<Vec<f64>> = Vec::with_capacity(columns.len());
    for mut column in columns {
        let before = norm(&column);
        remove_span(&mut column, &basis);
        let after = norm(&column);
        if after > 1e-6 * before.max(1e-12) && after > 1e-9 {
            column.iter_mut().for_each(|c| *c /= after);
            basis.push(column);
        }
    }
    basis
}

/// Takes out of `column` its part in the span of the orthonormal `basis`.
pub fn remove_span(column: &mut [f64], basis: &[Vec<f64>]) {
    for q in basis {
        let dot = dot(column, q);
        column.iter_mut().zip(q).for_each(|(c, q)| *c -= dot * q);
    }
}

/// The dot product of two columns.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A column's Euclidean length.
pub fn norm(a: &[f64]) -> f64 {
    dot(a, a).sqrt()
}
