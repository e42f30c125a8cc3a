use anyhow::Context;
use revenue_tools::recommend::{train_recommender, TrainOptions, TrainReport};
use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Recorded events, one JSON object per line (purchase history).
    #[arg(long)]
    events: PathBuf,
    /// Where to write the model artifact (JSON).
    #[arg(long)]
    out: PathBuf,
    /// The event `type` that is a purchase.
    #[arg(long, default_value = "purchase")]
    purchase_type: String,
    /// The event field holding the product id.
    #[arg(long, default_value = "product")]
    item_field: String,
    /// Neighbours kept per product.
    #[arg(long, default_value_t = 20)]
    top_k: usize,
    /// Share of the purchase time range held out for the evaluation (0 skips it).
    #[arg(long, default_value_t = 0.2)]
    test_share: f64,
    /// Added to a product's buyer count in P(j | i): weaker links for rarely bought products.
    #[arg(long, default_value_t = 5.0)]
    shrinkage: f64,
    /// Product pairs bought by fewer customers are dropped as noise.
    #[arg(long, default_value_t = 1)]
    min_support: u32,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let input =
        File::open(&args.events).with_context(|| format!("cannot open events file {}", args.events.display()))?;
    let options = TrainOptions {
        purchase_type: args.purchase_type.clone(),
        item_field: args.item_field.clone(),
        top_k: args.top_k,
        test_share: args.test_share,
        shrinkage: args.shrinkage,
        min_support: args.min_support,
        source_name: args
            .events
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let trained = train_recommender(BufReader::with_capacity(1 << 20, input), &options)
        .with_context(|| format!("cannot train a recommender from {}", args.events.display()))?;
    let mut artifact = serde_json::to_vec(&trained.artifact)?;
    artifact.push(b'\n');
    std::fs::write(&args.out, &artifact)
        .with_context(|| format!("cannot write the model artifact {}", args.out.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&trained.report)?);
    } else {
        print_report(&trained.report, &args, artifact.len());
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(r: &TrainReport, args: &Args, artifact_bytes: usize) {
    let input = &r.input;
    let range = match (input.first_ts, input.last_ts) {
        (Some(first), Some(last)) => format!(", {} to {}", utc_minute(first), utc_minute(last)),
        _ => String::new(),
    };
    println!(
        "read {} events from {}: {} purchases by {} customers of {} products{range}",
        input.events,
        args.events.display(),
        input.purchases,
        input.customers_with_purchases,
        input.products
    );
    if input.malformed > 0 || input.purchases_without_item > 0 {
        println!(
            "skipped {} malformed line(s) and {} purchase(s) without a `{}` field",
            input.malformed, input.purchases_without_item, args.item_field
        );
        for line in &input.malformed_lines {
            println!("  line {}: {}", line.line, line.reason);
        }
    }
    println!();
    match (&r.evaluation, &r.evaluation_skipped) {
        (Some(e), _) => {
            println!(
                "held-out evaluation: purchases from {} on held out (last {:.0} % of the time range); \
                 trained on {} purchases by {} customers",
                utc_minute(e.cutoff_ts),
                100.0 * e.test_share,
                e.train_purchases,
                e.train_customers
            );
            println!(
                "  customers evaluated: {} (bought before the cutoff and a new product after it)",
                e.customers_evaluated
            );
            println!(
                "  hit-rate@{:<3} recommender {:5.1} % ({}/{})",
                e.k,
                100.0 * e.recommender_hit_rate,
                e.recommender_hits,
                e.customers_evaluated
            );
            println!(
                "  hit-rate@{:<3} popularity  {:5.1} % ({}/{})",
                e.k,
                100.0 * e.popularity_hit_rate,
                e.popularity_hits,
                e.customers_evaluated
            );
            match e.lift {
                Some(lift) => println!("  lift: {lift:.2}× the popularity baseline"),
                None => println!("  lift: undefined (the popularity baseline never hit)"),
            }
        }
        (None, Some(reason)) => println!("held-out evaluation skipped: {reason}"),
        (None, None) => println!("held-out evaluation skipped"),
    }
    println!();
    let m = &r.model;
    println!(
        "model: {} products, up to {} neighbours each ({} links; shrinkage {}, min support {}), \
         retrained on {} ({} purchases by {} customers, the held-out split included)",
        m.products, m.top_k, m.neighbour_links, m.shrinkage, m.min_support, m.trained_on, m.purchases, m.customers
    );
    println!("written to {} ({} bytes)", args.out.display(), artifact_bytes);
}

/// `YYYY-MM-DD HH:MM` UTC of epoch milliseconds.
fn utc_minute(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let minute_of_day = ms.rem_euclid(86_400_000) / 60_000;
    // Howard Hinnant's days-to-civil: proleptic Gregorian calendar
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        minute_of_day / 60,
        minute_of_day % 60
    )
}
