//! `tong-man OUTDIR`: writes tong.8 and tong-COMMAND.8 for every command.
//! The date on the pages is $SOURCE_DATE_EPOCH's (reproducible builds), or
//! none.

fn main() {
    let mut args = std::env::args_os().skip(1);
    let (Some(out), None) = (args.next(), args.next()) else {
        eprintln!("usage: tong-man OUTDIR");
        std::process::exit(2);
    };
    let date = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .map(tong_man::iso_date)
        .unwrap_or_default();
    let out = std::path::PathBuf::from(out);
    let result = std::fs::create_dir_all(&out).and_then(|()| {
        tong_man::pages(&date)
            .iter()
            .try_for_each(|p| std::fs::write(out.join(p.file_name()), &p.roff))
    });
    if let Err(e) = result {
        eprintln!("tong-man: {}: {e}", out.display());
        std::process::exit(1);
    }
}
