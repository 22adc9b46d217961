// foliod driven by the official `meilisearch` JavaScript client, unchanged.
//
// run-client-test.sh starts a real foliod (fresh data directory, a free
// loopback port, a master key) and runs this file with node's test runner,
// FOLIO_URL and FOLIO_KEY in the environment. The tests run in order and
// share the server: an index is created, filled, read, configured, its tasks
// listed, canceled and deleted, and the index deleted at the end.

import assert from "node:assert/strict";
import { describe, test, before } from "node:test";
import { Meilisearch, MeilisearchApiError } from "meilisearch";

const host = process.env.FOLIO_URL;
const apiKey = process.env.FOLIO_KEY;
assert.ok(host, "FOLIO_URL is not set: run this through run-client-test.sh");

const client = new Meilisearch({
  host,
  apiKey,
  defaultWaitOptions: { timeout: 30_000, interval: 20 },
});

const movies = [
  { id: 1, title: "Carol", genre: "romance", year: 2015 },
  { id: 2, title: "Wild at Heart", genre: "drama", year: 1990 },
  { id: 3, title: "Life of Pi", genre: "adventure", year: 2012 },
  { id: 4, title: "Mad Max: Fury Road", genre: "adventure", year: 2015 },
  { id: "five", title: "Moana", genre: "animation", year: 2016 },
];

// The Meilisearch error a promise rejects with: {status, code}.
async function apiError(promise) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof MeilisearchApiError, `not an API error: ${e}`);
    assert.equal(typeof e.cause?.message, "string");
    assert.equal(e.cause.link, `https://docs.meilisearch.com/errors#${e.cause.code}`);
    return { status: e.response.status, code: e.cause.code, type: e.cause.type };
  }
  assert.fail("the request succeeded");
}

describe("foliod with the meilisearch JavaScript client", () => {
  const index = client.index("movies");
  let additionUid;
  const startedAt = new Date(Date.now() - 1000);

  before(async () => {
    assert.equal(await client.isHealthy(), true);
  });

  test("health, version, stats", async () => {
    assert.deepEqual(await client.health(), { status: "available" });
    const v = await client.getVersion();
    assert.equal(typeof v.pkgVersion, "string");
    const stats = await client.getStats();
    assert.equal(typeof stats.databaseSize, "number");
    assert.deepEqual(stats.indexes, {});
  });

  test("the master key is required", async () => {
    const bad = new Meilisearch({ host, apiKey: "not-the-key" });
    assert.deepEqual(await apiError(bad.getIndexes()), {
      status: 403,
      code: "invalid_api_key",
      type: "auth",
    });
    const none = new Meilisearch({ host });
    assert.equal((await apiError(none.getIndexes())).code, "missing_authorization_header");
  });

  test("create an index", async () => {
    const task = await client.createIndex("movies", { primaryKey: "id" }).waitTask();
    assert.equal(task.status, "succeeded", JSON.stringify(task));
    assert.equal(task.type, "indexCreation");
    assert.equal(task.indexUid, "movies");
    const info = await client.getRawIndex("movies");
    assert.equal(info.uid, "movies");
    assert.equal(info.primaryKey, "id");
    const fetched = await client.getIndex("movies");
    assert.equal(fetched.primaryKey, "id");
    const list = await client.getIndexes({ limit: 10 });
    assert.equal(list.total, 1);
    assert.equal(list.results[0].uid, "movies");
    // Creating it again fails in the task, as Meilisearch does.
    const again = await client.createIndex("movies").waitTask();
    assert.equal(again.status, "failed");
    assert.equal(again.error.code, "index_already_exists");
  });

  test("add documents and wait for the task", async () => {
    const enqueued = await index.addDocuments(movies);
    assert.equal(enqueued.status, "enqueued");
    assert.equal(enqueued.type, "documentAdditionOrUpdate");
    additionUid = enqueued.taskUid;
    const task = await client.tasks.waitForTask(enqueued.taskUid);
    assert.equal(task.status, "succeeded", JSON.stringify(task));
    assert.equal(task.details.receivedDocuments, movies.length);
    assert.equal(task.details.indexedDocuments, movies.length);
    assert.equal(typeof task.duration, "string");
    assert.ok(task.finishedAt >= task.startedAt);
    // Partial update (PUT) merges fields.
    const upd = await index.updateDocuments([{ id: 2, rating: 4 }]).waitTask();
    assert.equal(upd.status, "succeeded");
  });

  test("get documents", async () => {
    const all = await index.getDocuments({ limit: 100 });
    assert.equal(all.total, movies.length);
    assert.equal(all.results.length, movies.length);
    assert.deepEqual(
      all.results.map((d) => d.id),
      movies.map((d) => d.id),
    );
    const page = await index.getDocuments({ offset: 1, limit: 2, fields: ["title"] });
    assert.equal(page.offset, 1);
    assert.equal(page.limit, 2);
    assert.deepEqual(page.results, [{ title: "Wild at Heart" }, { title: "Life of Pi" }]);
    const one = await index.getDocument(2);
    assert.deepEqual(one, { id: 2, title: "Wild at Heart", genre: "drama", year: 1990, rating: 4 });
    const five = await index.getDocument("five", { fields: ["id", "year"] });
    assert.deepEqual(five, { id: "five", year: 2016 });
    assert.equal((await apiError(index.getDocument(99))).code, "document_not_found");
    assert.equal((await apiError(client.index("nope").getDocuments())).code, "index_not_found");
  });

  test("index stats", async () => {
    const s = await index.getStats();
    assert.equal(s.numberOfDocuments, movies.length);
    assert.equal(s.isIndexing, false);
    assert.equal(s.fieldDistribution.title, movies.length);
    assert.equal(s.fieldDistribution.rating, 1);
    assert.ok(s.indexSize > 0 && s.usedIndexSize > 0 && s.rawDocumentDbSize > 0);
    assert.equal(s.numberOfEmbeddings, 0);
    const all = await client.getStats();
    assert.equal(all.indexes.movies.numberOfDocuments, movies.length);
    assert.equal(typeof all.lastUpdate, "string");
  });

  test("update settings", async () => {
    const task = await index
      .updateSettings({
        filterableAttributes: ["genre", "year"],
        sortableAttributes: ["year"],
        stopWords: ["the", "of"],
        synonyms: { film: ["movie"] },
      })
      .waitTask();
    assert.equal(task.status, "succeeded", JSON.stringify(task));
    assert.equal(task.type, "settingsUpdate");
    const s = await index.getSettings();
    assert.deepEqual(s.filterableAttributes, ["genre", "year"]);
    assert.deepEqual(s.sortableAttributes, ["year"]);
    assert.deepEqual(s.stopWords, ["of", "the"]);
    assert.deepEqual(s.synonyms, { film: ["movie"] });
    assert.deepEqual(s.searchableAttributes, ["*"]);
    const bad = await apiError(index.updateSettings({ noSuchSetting: true }));
    assert.equal(bad.status, 400);
  });

  test("one setting at a time", async () => {
    assert.deepEqual(await index.getFilterableAttributes(), ["genre", "year"]);
    let t = await index.updateSortableAttributes(["year", "title"]).waitTask();
    assert.equal(t.status, "succeeded", JSON.stringify(t));
    assert.deepEqual(await index.getSortableAttributes(), ["title", "year"]);
    t = await index.updateDistinctAttribute("title").waitTask();
    assert.equal(t.status, "succeeded", JSON.stringify(t));
    assert.equal(await index.getDistinctAttribute(), "title");
    t = await index.resetDistinctAttribute().waitTask();
    assert.equal(await index.getDistinctAttribute(), null);
    t = await index.resetStopWords().waitTask();
    assert.equal(t.status, "succeeded");
    assert.deepEqual(await index.getStopWords(), []);
    assert.equal((await index.getRankingRules()).length, 6);
    assert.deepEqual(await index.getSynonyms(), { film: ["movie"] });
    // Settings folio does not have are not served.
    assert.equal((await apiError(index.getTypoTolerance())).status, 404);
  });

  test("search without and with a filter", async () => {
    // "carol" is the whole title of movie 1 and a word of no other document.
    const res = await index.search("carol");
    assert.equal(res.query, "carol");
    assert.deepEqual(res.hits, [movies[0]]);
    assert.equal(res.estimatedTotalHits, 1);
    assert.equal(res.limit, 20);
    assert.equal(res.offset, 0);
    assert.equal(typeof res.processingTimeMs, "number");
    // A prefix and a typo ("advnture" for "adventure", 8 letters: one typo allowed).
    assert.deepEqual((await index.search("mad ma")).hits.map((h) => h.id), [4]);
    const typo = await index.search("advnture");
    assert.deepEqual(typo.hits.map((h) => h.id).sort(), [3, 4]);
    // A string filter, and limit.
    const filtered = await index.search("", { filter: "genre = adventure", limit: 10 });
    assert.deepEqual(filtered.hits.map((h) => h.id).sort(), [3, 4]);
    assert.equal(filtered.limit, 10);
    // The array form: AND of its elements, an inner array ORed.
    const byYear = await index.search("", { filter: ["year = 2015"] });
    assert.deepEqual(byYear.hits.map((h) => h.id).sort(), [1, 4]);
    const either = await index.search("", {
      filter: [["genre = drama", "genre = animation"], "year < 2000"],
      attributesToRetrieve: ["title"],
    });
    assert.deepEqual(either.hits, [{ title: "Wild at Heart" }]);
    // The GET form (searchGet) with offset and limit.
    const got = await index.searchGet("", { filter: "year >= 2012", offset: 1, limit: 2 });
    assert.equal(got.estimatedTotalHits, 4);
    assert.equal(got.hits.length, 2);
    // Facets: counts over every match, numbers first, then strings; min/max of numbers.
    const faceted = await index.search("", { facets: ["genre", "year"], limit: 0 });
    assert.deepEqual(faceted.facetDistribution, {
      genre: { adventure: 2, animation: 1, drama: 1, romance: 1 },
      year: { 1990: 1, 2012: 1, 2015: 2, 2016: 1 },
    });
    assert.deepEqual(faceted.facetStats, { year: { min: 1990, max: 2016 } });
    const notFacetable = await apiError(index.search("", { facets: ["title"] }));
    assert.equal(notFacetable.code, "invalid_search_facets");
    // Numbered pages: exact totals, offset/limit fields replaced.
    const page2 = await index.search("", { hitsPerPage: 2, page: 2 });
    assert.deepEqual(page2.hits.map((h) => h.id), [3, 4]);
    assert.equal(page2.totalHits, movies.length);
    assert.equal(page2.totalPages, 3);
    assert.equal(page2.page, 2);
    assert.equal(page2.hitsPerPage, 2);
    assert.equal(page2.estimatedTotalHits, undefined);
    const page3 = await index.searchGet("", { hitsPerPage: 2, page: 3 });
    assert.deepEqual(page3.hits.map((h) => h.id), ["five"]);
    // Errors come back as Meilisearch's.
    const bad = await apiError(index.search("", { filter: "genre =" }));
    assert.deepEqual(bad, { status: 400, code: "invalid_search_filter", type: "invalid_request" });
    const notFilterable = await apiError(index.search("", { filter: "title = Moana" }));
    assert.equal(notFilterable.code, "invalid_search_filter");
    assert.equal((await apiError(client.index("nope").search("x"))).code, "index_not_found");
  });

  test("list tasks with filters", async () => {
    const all = await client.tasks.getTasks();
    assert.ok(all.total >= 5);
    assert.ok(all.results.length <= 20);
    assert.ok(all.results[0].uid > all.results[all.results.length - 1].uid, "newest first");

    const additions = await client.tasks.getTasks({
      indexUids: ["movies"],
      types: ["documentAdditionOrUpdate"],
      statuses: ["succeeded"],
    });
    assert.equal(additions.total, 2);
    assert.ok(additions.results.every((t) => t.type === "documentAdditionOrUpdate"));
    assert.ok(additions.results.some((t) => t.uid === additionUid));

    const failed = await client.tasks.getTasks({ statuses: ["failed"] });
    assert.equal(failed.total, 1);
    assert.equal(failed.results[0].error.code, "index_already_exists");

    const paged = await client.tasks.getTasks({ limit: 1, reverse: true });
    assert.equal(paged.results.length, 1);
    assert.equal(paged.results[0].uid, 0);
    assert.equal(paged.next, 1);
    const next = await client.tasks.getTasks({ limit: 1, reverse: true, from: paged.next });
    assert.equal(next.results[0].uid, 1);

    const dated = await client.tasks.getTasks({
      afterEnqueuedAt: startedAt,
      beforeEnqueuedAt: new Date(Date.now() + 60_000),
      uids: [0, 1, additionUid],
    });
    assert.equal(dated.total, 3);
    const none = await client.tasks.getTasks({ afterEnqueuedAt: new Date(Date.now() + 60_000) });
    assert.equal(none.total, 0);

    const one = await client.tasks.getTask(additionUid);
    assert.equal(one.uid, additionUid);
    assert.equal(typeof one.batchUid, "number");
    const batch = await client.batches.getBatch(one.batchUid);
    assert.equal(batch.uid, one.batchUid);
    const batches = await client.batches.getBatches({ limit: 2 });
    assert.ok(batches.results.length >= 1);

    const badStatus = await apiError(client.tasks.getTasks({ statuses: ["nope"] }));
    assert.deepEqual(badStatus, {
      status: 400,
      code: "invalid_task_statuses",
      type: "invalid_request",
    });
    assert.equal((await apiError(client.tasks.getTask(999_999))).code, "task_not_found");
  });

  test("cancel tasks", async (t) => {
    // Tasks enqueued in a burst: each ends either succeeded (it ran before the
    // cancelation) or canceled by it. The index exists first: when the
    // cancelation comes before the first addition has finished (it stops a
    // running one), no task of the burst would create it.
    assert.equal((await client.createIndex("burst").waitTask()).status, "succeeded");
    const burst = [];
    for (let i = 0; i < 10; i++) {
      const docs = Array.from({ length: 200 }, (_, k) => ({ id: i * 1000 + k, n: "x".repeat(50) }));
      burst.push(await client.index("burst").addDocuments(docs));
    }
    const uids = burst.map((t) => t.taskUid);
    const cancel = await client.tasks.cancelTasks({
      statuses: ["enqueued", "processing"],
      indexUids: ["burst"],
    });
    assert.equal(cancel.type, "taskCancelation");
    assert.equal(cancel.indexUid, null);
    const done = await client.tasks.waitForTask(cancel.taskUid);
    assert.equal(done.status, "succeeded", JSON.stringify(done));
    assert.equal(done.details.originalFilter, "?statuses=enqueued%2Cprocessing&indexUids=burst");
    const tasks = await client.tasks.waitForTasks(uids);
    let canceled = 0;
    for (const task of tasks) {
      if (task.status === "canceled") {
        assert.equal(task.canceledBy, cancel.taskUid);
        assert.equal(task.error, null);
        canceled++;
      } else {
        assert.equal(task.status, "succeeded", JSON.stringify(task));
      }
    }
    t.diagnostic(`${canceled} of ${uids.length} tasks canceled`);
    assert.equal(done.details.canceledTasks, canceled);
    const byCanceler = await client.tasks.getTasks({ canceledBy: [cancel.taskUid] });
    assert.equal(byCanceler.total, canceled);

    // Canceling finished tasks matches them and cancels nothing.
    const noop = await client.tasks.cancelTasks({ uids: [additionUid] }).waitTask();
    assert.equal(noop.status, "succeeded");
    assert.equal(noop.details.matchedTasks, 1);
    assert.equal(noop.details.canceledTasks, 0);
    // A filter is required.
    assert.equal((await apiError(client.tasks.cancelTasks({}))).code, "missing_task_filters");
  });

  test("delete tasks", async () => {
    const failed = await client.tasks.getTasks({ statuses: ["failed"] });
    const target = failed.results[0].uid;
    const del = await client.tasks.deleteTasks({ uids: [target, additionUid] }).waitTask();
    assert.equal(del.status, "succeeded", JSON.stringify(del));
    assert.equal(del.type, "taskDeletion");
    assert.equal(del.details.matchedTasks, 2);
    assert.equal(del.details.deletedTasks, 2);
    assert.equal((await apiError(client.tasks.getTask(target))).code, "task_not_found");
    assert.equal((await apiError(client.tasks.getTask(additionUid))).code, "task_not_found");
    assert.equal((await client.tasks.getTasks({ statuses: ["failed"] })).total, 0);
    assert.equal((await apiError(client.tasks.deleteTasks({}))).code, "missing_task_filters");
  });

  test("delete documents", async () => {
    let t = await index.deleteDocument("five").waitTask();
    assert.equal(t.status, "succeeded");
    t = await index.deleteDocuments([3, 4]).waitTask();
    assert.equal(t.status, "succeeded");
    assert.equal(t.details.deletedDocuments, 2);
    assert.equal((await index.getDocuments()).total, 2);
    t = await index.deleteAllDocuments().waitTask();
    assert.equal(t.status, "succeeded", JSON.stringify(t));
    assert.equal(t.details.deletedDocuments, 2);
    assert.equal((await index.getDocuments()).total, 0);
  });

  test("delete the indexes", async () => {
    for (const uid of ["movies", "burst"]) {
      const t = await client.deleteIndex(uid).waitTask();
      assert.equal(t.status, "succeeded", JSON.stringify(t));
      assert.equal(t.type, "indexDeletion");
      assert.equal((await apiError(client.getRawIndex(uid))).code, "index_not_found");
    }
    assert.equal((await client.getIndexes()).total, 0);
    assert.equal(await client.deleteIndexIfExists("movies"), false);
  });
});

// POST /multi-search through client.multiSearch: its own two indexes, made
// and deleted here, so the section depends on no other.
describe("multiSearch", () => {
  const books = [
    { id: 1, title: "red fox", genre: "fable", year: 1990 },
    { id: 2, title: "blue owl", genre: "drama", year: 2001 },
    { id: 3, title: "red owl", genre: "drama", year: 2012 },
    { id: 4, title: "gold yak", genre: "fable", year: 2020 },
  ];
  const films = [
    { id: "a", title: "red sky", year: 1999 },
    { id: "b", title: "grey sea", year: 2005 },
  ];

  before(async () => {
    for (const [uid, docs] of [
      ["ms_books", books],
      ["ms_films", films],
    ]) {
      const t = await client.index(uid).addDocuments(docs, { primaryKey: "id" }).waitTask();
      assert.equal(t.status, "succeeded", JSON.stringify(t));
    }
    const s = await client
      .index("ms_books")
      .updateFilterableAttributes(["genre", "year"])
      .waitTask();
    assert.equal(s.status, "succeeded", JSON.stringify(s));
  });

  test("results per query, in order, as the single search gives them", async () => {
    const queries = [
      { indexUid: "ms_books", q: "red" },
      { indexUid: "ms_films", q: "red" },
      { indexUid: "ms_books", filter: ["genre = drama", "year > 2005"], attributesToRetrieve: ["title"] },
      { indexUid: "ms_books", offset: 1, limit: 2 },
      { indexUid: "ms_films", q: "nothing" },
    ];
    const { results } = await client.multiSearch({ queries });
    assert.equal(results.length, queries.length);
    assert.deepEqual(
      results.map((r) => r.indexUid),
      queries.map((q) => q.indexUid),
    );
    // Worked out from the documents above: "red" is a word of books 1 and 3, film "a".
    assert.deepEqual(results[0].hits, [books[0], books[2]]);
    assert.equal(results[0].estimatedTotalHits, 2);
    assert.equal(results[0].query, "red");
    assert.deepEqual(results[1].hits, [films[0]]);
    assert.deepEqual(results[2].hits, [{ title: "red owl" }]);
    assert.deepEqual(results[3].hits, [books[1], books[2]]);
    assert.equal(results[3].offset, 1);
    assert.equal(results[3].limit, 2);
    assert.equal(results[3].estimatedTotalHits, 4);
    assert.deepEqual(results[4].hits, []);
    // Each equals the single route's answer (processingTimeMs aside).
    for (const [i, { indexUid, ...params }] of queries.entries()) {
      const { processingTimeMs: a, ...single } = await client.index(indexUid).search(null, params);
      const { processingTimeMs: b, indexUid: uid, ...multi } = results[i];
      assert.equal(typeof a, "number");
      assert.equal(typeof b, "number");
      assert.equal(uid, indexUid);
      assert.deepEqual(multi, single);
    }
    assert.deepEqual(await client.multiSearch({ queries: [] }), { results: [] });
  });

  test("errors name the query", async () => {
    const missing = await apiError(
      client.multiSearch({ queries: [{ indexUid: "ms_books" }, { indexUid: "ms_nope" }] }),
    );
    assert.deepEqual(missing, { status: 404, code: "index_not_found", type: "invalid_request" });
    try {
      await client.multiSearch({ queries: [{ indexUid: "ms_books", filter: "title = x" }] });
      assert.fail("the request succeeded");
    } catch (e) {
      assert.ok(e instanceof MeilisearchApiError, `not an API error: ${e}`);
      assert.equal(e.cause.code, "invalid_search_filter");
      assert.ok(e.cause.message.startsWith("Inside `.queries[0]`: "), e.cause.message);
    }
    const noUid = await apiError(client.multiSearch({ queries: [{ q: "red" }] }));
    assert.equal(noUid.code, "missing_index_uid");
    const badUid = await apiError(client.multiSearch({ queries: [{ indexUid: "no way" }] }));
    assert.equal(badUid.code, "invalid_index_uid");
    // Federated search is not served.
    const federated = await apiError(
      client.multiSearch({ federation: {}, queries: [{ indexUid: "ms_books" }] }),
    );
    assert.deepEqual(federated, { status: 400, code: "bad_request", type: "invalid_request" });
    const unauth = new Meilisearch({ host, apiKey: "not-the-key" });
    assert.equal(
      (await apiError(unauth.multiSearch({ queries: [{ indexUid: "ms_books" }] }))).code,
      "invalid_api_key",
    );
  });

  test("delete its indexes", async () => {
    for (const uid of ["ms_books", "ms_films"]) {
      const t = await client.deleteIndex(uid).waitTask();
      assert.equal(t.status, "succeeded", JSON.stringify(t));
    }
  });
});

// Documents by filter (getDocuments({filter}) → POST /documents/fetch,
// deleteDocuments({filter}) → POST /documents/delete), on an index of its own
// that this section creates and deletes.
describe("documents by filter with the meilisearch JavaScript client", () => {
  const books = client.index("docfilter");
  const docs = [
    { id: 1, genre: "fantasy", year: 1954 },
    { id: 2, genre: "horror", year: 1977 },
    { id: 3, genre: "fantasy", year: 1997 },
    { id: 4, genre: "poetry", year: 2001 },
    { id: 5, genre: "fantasy", year: 2007 },
  ];
  const ids = (list) => list.map((d) => d.id);

  before(async () => {
    let t = await client.createIndex("docfilter", { primaryKey: "id" }).waitTask();
    assert.equal(t.status, "succeeded", JSON.stringify(t));
    t = await books.updateFilterableAttributes(["genre", "year"]).waitTask();
    assert.equal(t.status, "succeeded", JSON.stringify(t));
    t = await books.addDocuments(docs).waitTask();
    assert.equal(t.status, "succeeded", JSON.stringify(t));
  });

  test("getDocuments with a filter", async () => {
    const fantasy = await books.getDocuments({ filter: "genre = fantasy" });
    assert.equal(fantasy.total, 3);
    assert.deepEqual(ids(fantasy.results), [1, 3, 5]);
    const page = await books.getDocuments({
      filter: ["year > 1960", ["genre = fantasy", "genre = poetry"]],
      offset: 1,
      limit: 1,
      fields: ["year"],
    });
    assert.equal(page.total, 3);
    assert.equal(page.offset, 1);
    assert.equal(page.limit, 1);
    assert.deepEqual(page.results, [{ year: 2001 }]);
    const bad = await apiError(books.getDocuments({ filter: "title = x" }));
    assert.deepEqual(bad, { status: 400, code: "invalid_document_filter", type: "invalid_request" });
    assert.equal((await apiError(books.getDocuments({ filter: "year >" }))).code,
      "invalid_document_filter");
  });

  test("getDocuments by ids", async () => {
    // Internal (insertion) order whatever the list's order; unknown ids ignored.
    const listed = await books.getDocuments({ ids: [5, 1, 99, 3] });
    assert.equal(listed.total, 3);
    assert.deepEqual(ids(listed.results), [1, 3, 5]);
    // With a filter the client POSTs to /documents/fetch: the listed that match.
    const both = await books.getDocuments({ ids: ["4", "3", "2"], filter: "genre = fantasy" });
    assert.equal(both.total, 1);
    assert.deepEqual(ids(both.results), [3]);
  });

  test("deleteDocuments with a filter", async () => {
    const enqueued = await books.deleteDocuments({ filter: "genre = fantasy AND year < 2000" });
    assert.equal(enqueued.type, "documentDeletion");
    const t = await client.tasks.waitForTask(enqueued.taskUid);
    assert.equal(t.status, "succeeded", JSON.stringify(t));
    assert.deepEqual(t.details, {
      providedIds: 0,
      deletedDocuments: 2,
      originalFilter: '"genre = fantasy AND year < 2000"',
    });
    assert.deepEqual(ids((await books.getDocuments()).results), [2, 4, 5]);
    const failed = await books.deleteDocuments({ filter: "title = x" }).waitTask();
    assert.equal(failed.status, "failed");
    assert.equal(failed.error.code, "invalid_document_filter");
    assert.equal((await books.getDocuments()).total, 3);
    assert.equal((await apiError(books.deleteDocuments({ filter: "year >" }))).code,
      "invalid_document_filter");
  });

  test("delete its index", async () => {
    const t = await client.deleteIndex("docfilter").waitTask();
    assert.equal(t.status, "succeeded", JSON.stringify(t));
  });
});
