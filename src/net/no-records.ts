// Words for a host that does not resolve, shared by the dns layer and the --internal dns layer (no library: the
// offline path loads it).

/** Why a host does not resolve, from what the resolvers said (NXDOMAIN wins over NODATA). */
export function noRecordsKind(statuses: readonly string[]): string {
  return statuses.includes('nxdomain')
    ? 'NXDOMAIN: the name does not exist'
    : 'NODATA: the name exists but has no A/AAAA record';
}
