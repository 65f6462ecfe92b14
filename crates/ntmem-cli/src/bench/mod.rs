//! `ntmem bench`: placeholder until the benchmarks land.

pub(crate) fn run(_json: bool) -> anyhow::Result<()> {
    anyhow::bail!("not built yet")
}
