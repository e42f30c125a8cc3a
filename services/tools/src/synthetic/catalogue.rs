//! What is sold: the telecom services and the distributor's product catalogue.

use revenue_core::rng::Rng;

/// Telecom services: name, weight among contracts.
pub(super) const SERVICES: [(&str, f64); 5] = [
    ("mobile", 0.45),
    ("fixed-line", 0.25),
    ("cloud-pbx", 0.12),
    ("sd-wan", 0.10),
    ("iot", 0.08),
];

/// A product category of the distributor.
struct Category {
    products: u16,
    /// Unit price range in EUR.
    price: (f64, f64),
    /// Order quantity range.
    quantity: (f64, f64),
}

const fn category(products: u16, price: (f64, f64), quantity: (f64, f64)) -> Category {
    Category {
        products,
        price,
        quantity,
    }
}

const CATEGORIES: [Category; 10] = [
    category(60, (0.4, 35.0), (10.0, 2000.0)),   // semiconductors
    category(45, (0.02, 1.5), (100.0, 10000.0)), // passive components
    category(40, (0.1, 9.0), (50.0, 2000.0)),    // connectors
    category(30, (1.5, 80.0), (5.0, 500.0)),     // sensors
    category(25, (8.0, 320.0), (1.0, 100.0)),    // power supplies
    category(20, (15.0, 420.0), (1.0, 60.0)),    // displays
    category(25, (25.0, 650.0), (1.0, 40.0)),    // embedded boards
    category(25, (1.0, 45.0), (10.0, 500.0)),    // cables
    category(10, (120.0, 4800.0), (1.0, 3.0)),   // test equipment
    category(20, (5.0, 250.0), (1.0, 20.0)),     // tools
];

/// "No product" in a planned event.
pub(super) const NO_PRODUCT: u16 = u16::MAX;

#[derive(Debug, Clone)]
pub(super) struct Product {
    unit_price: f64,
    quantity: (f64, f64),
}

impl Product {
    pub(super) fn price_cents(&self) -> i64 {
        (self.unit_price * 100.0).round().max(1.0) as i64
    }
}

/// The assortment: ~300 products, fixed for every seed, with popularity falling within each
/// category (a few best sellers, a long tail).
#[derive(Debug, Clone)]
pub(super) struct Catalogue {
    pub(super) products: Vec<Product>,
    by_category: Vec<Vec<u16>>,
    popularity: Vec<Vec<f64>>,
}

impl Catalogue {
    pub(super) fn new() -> Catalogue {
        let mut rng = Rng::new(0x00C0_FFEE);
        let mut products = Vec::new();
        let mut by_category = Vec::new();
        let mut popularity = Vec::new();
        for Category {
            products: count,
            price,
            quantity,
        } in CATEGORIES
        {
            let mut ids = Vec::new();
            let mut weights = Vec::new();
            for rank in 0..count {
                ids.push(products.len() as u16);
                weights.push(1.0 / f64::from(rank + 1).powf(0.9));
                let unit = rng.log_uniform(price.0, price.1);
                let unit = if unit < 1.0 {
                    (unit * 1000.0).round() / 1000.0
                } else {
                    (unit * 100.0).round() / 100.0
                };
                products.push(Product {
                    unit_price: unit,
                    quantity,
                });
            }
            by_category.push(ids);
            popularity.push(weights);
        }
        Catalogue {
            products,
            by_category,
            popularity,
        }
    }

    pub(super) fn category_weights(&self) -> Vec<f64> {
        self.by_category.iter().map(|c| c.len() as f64).collect()
    }

    pub(super) fn popular_in(&self, rng: &mut Rng, category: usize) -> u16 {
        self.by_category[category][rng.weighted(&self.popularity[category])]
    }

    /// One order line: a plausible quantity (packs for small parts) at the unit price, in cents.
    pub(super) fn order_line(&self, rng: &mut Rng, product: u16) -> i64 {
        let p = &self.products[product as usize];
        let mut quantity = rng.log_uniform(p.quantity.0, p.quantity.1).round().max(1.0);
        if quantity >= 1000.0 {
            quantity = (quantity / 100.0).round() * 100.0;
        } else if quantity >= 50.0 {
            quantity = (quantity / 10.0).round() * 10.0;
        }
        (quantity * p.unit_price * 100.0).round().max(1.0) as i64
    }
}
