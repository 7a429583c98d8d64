// Core selection (ple_session_options.cpus): the CPU classes read from the sysfs fixture trees
// in tests/data/cpu-topologies/, the selection's checks and errors, the CPUs each worker
// actually runs with (read inside the worker with sched_getaffinity), the calling thread moved
// into the selection by its first run, XNNPACK's threads created inside it (the creating
// thread given its own mask back), and results that do not depend on where they were computed.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <dirent.h>
#include <sched.h>
#include <unistd.h>
#endif

#include "ple/ple.hpp"
#include "run/cpu_affinity.h"
#include "run/cpu_classes.h"
#include "test_util.h"

namespace {

using ple::rt::CpuClasses;

std::string Topology(const std::string& name) { return ple::test::SourcePath("tests/data/cpu-topologies/" + name); }

#if defined(__linux__)
// Sets PLE_CPU_SYSFS_ROOT for the life of the object (sessions read it when they are created).
class SysfsRoot {
 public:
  explicit SysfsRoot(const std::string& root) { setenv("PLE_CPU_SYSFS_ROOT", root.c_str(), 1); }
  ~SysfsRoot() { unsetenv("PLE_CPU_SYSFS_ROOT"); }
};

uint64_t Bits(std::initializer_list<int> cpus) {
  uint64_t mask = 0;
  for (int cpu : cpus) mask |= uint64_t{1} << cpu;
  return mask;
}

std::vector<int> CpusOf(uint64_t mask) {
  std::vector<int> cpus;
  for (int cpu = 0; cpu < 64; ++cpu) {
    if (mask >> cpu & 1) cpus.push_back(cpu);
  }
  return cpus;
}

// A sysfs tree for this machine's allowed CPUs: the first one big (capacity 1024), the others
// little (512). Empty when fewer than two CPUs are allowed.
std::string TwoClassTreeForThisMachine(uint64_t allowed) {
  const std::vector<int> cpus = CpusOf(allowed);
  if (cpus.size() < 2) return "";
  const std::string root = ple::test::MakeTempDir() + "/cpu";
  for (int cpu : cpus) {
    const std::string folder = root + "/cpu" + std::to_string(cpu);
    std::filesystem::create_directories(folder);
    std::ofstream(folder + "/cpu_capacity") << (cpu == cpus[0] ? 1024 : 512) << "\n";
  }
  return root;
}

#endif

ple::Model GoldenModel() { return ple::Model::OpenFile(ple::test::SourcePath("tests/golden/v1-feed-ranker.ple")); }

}  // namespace

TEST_CASE("cpu classes: big and little from cpu_capacity, cpufreq, three clusters, uniform and offline trees",
          "[cpus]") {
  const CpuClasses four_four = ple::rt::ReadCpuClasses(Topology("phone-4-4-capacity"));
  CHECK(four_four.source == PLE_CPU_CLASSES_CAPACITY);
  CHECK(four_four.cpus == 0xff);  // cpufreq/ and cpuidle/ beside the cpuN folders are not CPUs
  CHECK(four_four.little == 0x0f);
  CHECK(four_four.big == 0xf0);
  CHECK(four_four.num_classes == 2);

  const CpuClasses by_frequency = ple::rt::ReadCpuClasses(Topology("phone-4-4-cpufreq"));
  CHECK(by_frequency.source == PLE_CPU_CLASSES_MAX_FREQUENCY);
  CHECK(by_frequency.little == 0x0f);
  CHECK(by_frequency.big == 0xf0);

  // Three classes: little is the lowest, big the middle and the prime cores together.
  const CpuClasses three = ple::rt::ReadCpuClasses(Topology("phone-1-3-4-capacity"));
  CHECK(three.source == PLE_CPU_CLASSES_CAPACITY);
  CHECK(three.num_classes == 3);
  CHECK(three.little == 0x0f);
  CHECK(three.big == 0xf0);

  const CpuClasses uniform = ple::rt::ReadCpuClasses(Topology("uniform-8"));
  CHECK(uniform.source == PLE_CPU_CLASSES_UNIFORM);
  CHECK(uniform.num_classes == 1);
  CHECK(uniform.big == 0xff);
  CHECK(uniform.little == 0xff);

  const CpuClasses offline = ple::rt::ReadCpuClasses(Topology("phone-2-2-cpufreq-offline"));
  CHECK(offline.cpus == 0x0f);
  CHECK(offline.little == 0x03);
  CHECK(offline.big == 0x04);  // CPU 3 has no frequency: in neither class

  const CpuClasses missing = ple::rt::ReadCpuClasses(Topology("no-such-tree"));
  CHECK(missing.source == PLE_CPU_CLASSES_UNIFORM);
  CHECK(missing.cpus == 0);
}

#if defined(__linux__)

TEST_CASE("cpu selection: bad selections are clear errors, big and little are intersected with the allowed CPUs",
          "[cpus]") {
  const std::string four_four = Topology("phone-4-4-capacity");
  const uint64_t allowed = ple::rt::CurrentThreadCpus();
  REQUIRE(allowed != 0);
  uint64_t cpus = 0;
  ple::rt::Status status = ple::rt::ResolveCpuSelection(7, 0, four_four.c_str(), &cpus);
  CHECK(status.code() == PLE_ERROR_INVALID_ARGUMENT);
  CHECK_THAT(status.message(), Catch::Contains("unknown CPU selection 7"));
  status = ple::rt::ResolveCpuSelection(PLE_CPUS_MASK, 0, four_four.c_str(), &cpus);
  CHECK(status.code() == PLE_ERROR_INVALID_ARGUMENT);
  CHECK_THAT(status.message(), Catch::Contains("cpu_mask is 0"));
  status = ple::rt::ResolveCpuSelection(PLE_CPUS_MASK, Bits({1, 9}), four_four.c_str(), &cpus);
  CHECK(status.code() == PLE_ERROR_INVALID_ARGUMENT);
  CHECK_THAT(status.message(), Catch::Contains("cpu_mask 0x202 names CPUs this device does not have (its CPUs: 0xff)"));
  REQUIRE(ple::rt::ResolveCpuSelection(PLE_CPUS_ALL, 0, four_four.c_str(), &cpus).ok());
  CHECK(cpus == 0);
  for (int selection : {PLE_CPUS_BIG, PLE_CPUS_LITTLE}) {
    const uint64_t wanted = selection == PLE_CPUS_BIG ? 0xf0 : 0x0f;
    status = ple::rt::ResolveCpuSelection(selection, 0, four_four.c_str(), &cpus);
    if ((wanted & allowed) == 0) {  // a 2-CPU machine has no CPU 4 to 7: an empty intersection
      CHECK(status.code() == PLE_ERROR_INVALID_ARGUMENT);
      CHECK_THAT(status.message(), Catch::Contains("are all outside the CPUs this thread may run on"));
    } else {
      CHECK(status.ok());
      CHECK(cpus == (wanted & allowed));
    }
  }
  // A thread restricted to one CPU (as Android's cpusets restrict background apps) that asks
  // for another: refused, naming both masks.
  const int first = CpusOf(allowed)[0];
  const int other = first == 0 ? 1 : 0;
  std::thread restricted([&] {
    REQUIRE(ple::rt::SetCurrentThreadCpus(uint64_t{1} << first));
    uint64_t out = 0;
    const ple::rt::Status refused =
        ple::rt::ResolveCpuSelection(PLE_CPUS_MASK, uint64_t{1} << other, Topology("uniform-8").c_str(), &out);
    CHECK(refused.code() == PLE_ERROR_INVALID_ARGUMENT);
    CHECK_THAT(refused.message(), Catch::Contains("may run on (0x" + std::to_string(1 << first)));
  });
  restricted.join();
}

TEST_CASE("cpu selection: a scoped move gives the calling thread its mask back, a plain move keeps it inside",
          "[cpus]") {
  const uint64_t allowed = ple::rt::CurrentThreadCpus();
  const std::vector<int> cpus = CpusOf(allowed);
  if (cpus.size() < 2) {
    WARN("one CPU allowed: nothing to move between");
    return;
  }
  std::thread caller([&] {
    const uint64_t own = ple::rt::CurrentThreadCpus();
    const uint64_t one = uint64_t{1} << cpus.back();
    {
      const ple::rt::ScopedThreadCpus inside(one);
      CHECK(ple::rt::CurrentThreadCpus() == one);
      CHECK(ple::rt::CurrentCpu() == cpus.back());
    }
    CHECK(ple::rt::CurrentThreadCpus() == own);
    {
      const ple::rt::ScopedThreadCpus inside(0);  // PLE_CPUS_ALL: nothing changes
      CHECK(ple::rt::CurrentThreadCpus() == own);
    }
    REQUIRE(ple::rt::SetCurrentThreadCpus(one));
    {
      const ple::rt::ScopedThreadCpus inside(allowed);  // already inside: left where it is
      CHECK(ple::rt::CurrentThreadCpus() == one);
    }
    CHECK(ple::rt::CurrentThreadCpus() == one);
    REQUIRE(ple::rt::SetCurrentThreadCpus(own));
    ple::rt::MoveCurrentThreadInside(one);
    CHECK(ple::rt::CurrentThreadCpus() == one);
    ple::rt::MoveCurrentThreadInside(allowed);  // already inside: stays
    CHECK(ple::rt::CurrentThreadCpus() == one);
  });
  caller.join();
}

TEST_CASE("cpu selection: each worker runs with the selected CPUs, read inside the worker, results unchanged",
          "[cpus][threads]") {
  const uint64_t allowed = ple::rt::CurrentThreadCpus();
  const std::string tree = TwoClassTreeForThisMachine(allowed);
  if (tree.empty()) {
    WARN("one CPU allowed: no big and little to tell apart");
    return;
  }
  const SysfsRoot root(tree);
  const ple::test::AlwaysSplitThreads split;
  const uint64_t big = uint64_t{1} << CpusOf(allowed)[0];
  const uint64_t little = allowed & ~big;
  const ple_cpu_classes classes = ple::CpuClasses();
  CHECK(classes.source == PLE_CPU_CLASSES_CAPACITY);
  CHECK(classes.big == big);
  CHECK(classes.little == little);
  CHECK(classes.allowed == allowed);

  ple::Model model = GoldenModel();
  const size_t rows = 16;
  std::vector<float> inputs(rows * model.row_width());
  for (size_t i = 0; i < inputs.size(); ++i) inputs[i] = static_cast<float>((i * 37) % 101) / 50.0f - 1.0f;
  // Each session runs on a thread of its own: a run moves its calling thread inside the
  // selection and leaves it there. `caller_cpus` is that thread's mask after the run.
  auto run = [&](ple::SessionOptions options, uint64_t* worker_cpus, uint64_t* caller_cpus) {
    std::vector<float> outputs;
    std::thread caller([&] {
      options.max_batch = rows;
      options.num_threads = 3;
      ple::Session session(model, options);
      *worker_cpus = session.info().worker_cpu_mask;
      outputs = session.Run(inputs);
      *caller_cpus = ple::rt::CurrentThreadCpus();
    });
    caller.join();
    return outputs;
  };
  uint64_t workers = 0, caller = 0;
  const std::vector<float> everywhere = run({}, &workers, &caller);
  CHECK(workers != 0);
  CHECK((workers & ~allowed) == 0);
  CHECK(caller == allowed);  // PLE_CPUS_ALL moves no thread

  ple::SessionOptions options;
  options.cpus = PLE_CPUS_BIG;
  CHECK(run(options, &workers, &caller) == everywhere);
  CHECK(workers == big);  // one big CPU: the workers share it
  CHECK(caller == big);
  options.cpus = PLE_CPUS_LITTLE;
  CHECK(run(options, &workers, &caller) == everywhere);
  CHECK(workers != 0);
  CHECK((workers & ~little) == 0);
  CHECK(caller == little);
  options.cpus = PLE_CPUS_MASK;
  options.cpu_mask = little & (~little + 1);  // the lowest little CPU
  CHECK(run(options, &workers, &caller) == everywhere);
  CHECK(workers == options.cpu_mask);
  CHECK(caller == options.cpu_mask);
  CHECK(ple::rt::CurrentThreadCpus() == allowed);  // this thread ran nothing
}

TEST_CASE("cpu selection: XNNPACK's threads are created inside the selection", "[cpus][threads]") {
  if (!PLE_TEST_HAVE_XNNPACK) return;
  const uint64_t allowed = ple::rt::CurrentThreadCpus();
  const uint64_t one = uint64_t{1} << CpusOf(allowed).back();
  auto threads = [] {
    std::set<int> ids;
    DIR* dir = opendir("/proc/self/task");
    REQUIRE(dir != nullptr);
    while (const dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') ids.insert(std::atoi(entry->d_name));
    }
    closedir(dir);
    return ids;
  };
  const std::set<int> before = threads();
  ple::Model model = GoldenModel();
  ple::SessionOptions options;
  options.kernel_path = PLE_KERNELS_XNNPACK;
  options.num_threads = 2;
  options.cpus = PLE_CPUS_MASK;
  options.cpu_mask = one;
  ple::Session session(model, options);
  size_t checked = 0;
  for (int id : threads()) {
    if (before.count(id) != 0) continue;
    cpu_set_t set;
    CPU_ZERO(&set);
    REQUIRE(sched_getaffinity(id, sizeof(set), &set) == 0);
    CHECK(CPU_COUNT(&set) == 1);
    CHECK(CPU_ISSET(CpusOf(one)[0], &set));
    ++checked;
  }
  CHECK(checked >= 1);
  CHECK(ple::rt::CurrentThreadCpus() == allowed);  // the creating thread is given its mask back
}

#else  // no thread affinity (WebAssembly): only PLE_CPUS_ALL

TEST_CASE("cpu selection: without thread affinity anything but all CPUs is UNSUPPORTED", "[cpus]") {
  ple::Model model = GoldenModel();
  ple::SessionOptions options;
  options.cpus = PLE_CPUS_LITTLE;
  try {
    ple::Session session(model, options);
    FAIL("a little-core session was created without thread affinity");
  } catch (const ple::Error& e) {
    CHECK(e.status() == PLE_ERROR_UNSUPPORTED);
  }
  CHECK(ple::CpuClasses().source == PLE_CPU_CLASSES_UNAVAILABLE);
  options.cpus = PLE_CPUS_ALL;
  ple::Session session(model, options);
}

#endif

TEST_CASE("cpu selection: an ABI 1.1 options struct ends before cpus (every CPU), an older classes struct is refused",
          "[cpus][c_api]") {
  ple::Model model = GoldenModel();
  ple_session_options old;
  ple_session_options_init(&old);
  old.struct_size = offsetof(ple_session_options, cpus);
  old.cpus = static_cast<ple_cpu_selection>(99);  // beyond its struct_size: not read
  ple_session* session = nullptr;
  REQUIRE(ple_session_create(model.get(), &old, &session) == PLE_OK);
  ple_session_close(&session);
  old.struct_size = sizeof(old);
  CHECK(ple_session_create(model.get(), &old, &session) == PLE_ERROR_INVALID_ARGUMENT);
  CHECK_THAT(ple_last_error(), Catch::Contains("unknown CPU selection 99"));
  ple_cpu_classes classes{};
  classes.struct_size = 8;
  CHECK(ple_cpu_classes_get(&classes) == PLE_ERROR_INVALID_ARGUMENT);
  CHECK(ple_cpu_classes_get(nullptr) == PLE_ERROR_INVALID_ARGUMENT);
}
